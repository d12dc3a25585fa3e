"""The generator's own nomenclature: drugs and packs, codes it uses, specialties, departments.

Real ATC7, ICD-10, CCAM and NABM codes; invented CIP13 pack codes (prefix 34009, EAN-13
check digit) and invented product names. Nothing here is read from ``../shared``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# SNDS specialty codes (nomenclature IR_SPE_V) used for PSE_SPE_COD / PSP_SPE_COD.
SPECIALTY = {
    "gp": 1,
    "cardiology": 3,
    "ophthalmology": 15,
    "psychiatry": 33,
    "biology": 38,
    "endocrinology": 42,
    "pharmacy": 50,
}

# PRS_NAT_REF / BSE_PRS_NAT codes (nomenclature IR_NAT_V); see docs/synth.md for which ones
# are documented and which are assumptions.
NATURE = {
    "gp_consultation": 1111,  # C
    "specialist_consultation": 1112,  # CS
    "gp_home_visit": 1211,  # V
    "pharmacy_65": 3313,  # PH7
    "pharmacy_30": 3312,  # PH4
    "pharmacy_100": 3311,  # PH1
    "ccam_act": 1351,  # assumption: technical CCAM act
    "lab": 7101,  # assumption: biology act (B)
    "facility": 2211,  # assumption: facility fee (hospital outpatient / clinic)
}


@dataclass(frozen=True)
class Drug:
    atc7: str
    molecule: str
    strength: str
    ngc_units: int  # units per small (monthly) pack
    gc_units: int  # units per large (quarterly) pack, 0 = no large pack
    price_cents: int  # price of the small pack
    nature: int = NATURE["pharmacy_65"]
    daily_units: int = 1  # units taken per day: a pack supplies units // daily_units days
    # other strengths of the molecule, (label, share of episodes): same units per pack, so the
    # same days; the base strength takes the rest (catalog.with_strengths)
    strengths: tuple[tuple[str, float], ...] = ()


DRUGS: tuple[Drug, ...] = (
    Drug("A10BA02", "METFORMINE", "1000MG", 30, 90, 420, strengths=(("500MG", 0.2), ("850MG", 0.3))),
    Drug("A10BB09", "GLICLAZIDE", "60MG", 30, 90, 560),
    Drug("A10BH01", "SITAGLIPTINE", "100MG", 28, 84, 3190),
    Drug("A10AE04", "INSULINE GLARGINE", "100UI/ML", 30, 90, 4820, NATURE["pharmacy_100"]),
    Drug("A10BG03", "PIOGLITAZONE", "30MG", 28, 84, 2560, strengths=(("15MG", 0.3), ("45MG", 0.2))),
    Drug("A10BG02", "ROSIGLITAZONE", "4MG", 28, 84, 2750),
    Drug("C10AA05", "ATORVASTATINE", "20MG", 30, 90, 1210, strengths=(("10MG", 0.3), ("40MG", 0.2))),
    Drug("C10AA01", "SIMVASTATINE", "20MG", 28, 84, 780),
    Drug("C10AA07", "ROSUVASTATINE", "10MG", 30, 90, 1390),
    Drug("C09AA05", "RAMIPRIL", "5MG", 30, 90, 410),
    Drug("C09AA02", "ENALAPRIL", "20MG", 28, 84, 520),
    Drug("C07AB07", "BISOPROLOL", "5MG", 30, 90, 450),
    Drug("C07AB02", "METOPROLOL", "100MG", 28, 84, 560),
    Drug("C08CA01", "AMLODIPINE", "5MG", 30, 90, 380),
    Drug("C03CA01", "FUROSEMIDE", "40MG", 30, 90, 250),
    Drug("B01AC06", "ACIDE ACETYLSALICYLIQUE", "75MG", 30, 90, 270),
    Drug("N06AB10", "ESCITALOPRAM", "10MG", 28, 0, 890),
    Drug("N06AB05", "PAROXETINE", "20MG", 28, 0, 620),
    Drug("N06AB06", "SERTRALINE", "50MG", 28, 0, 710),
    Drug("N05BA12", "ALPRAZOLAM", "250µG", 30, 0, 190, NATURE["pharmacy_30"], strengths=(("500µG", 0.4),)),
    Drug("N05BA04", "OXAZEPAM", "10MG", 30, 0, 170, NATURE["pharmacy_30"]),
    Drug("N05BA08", "BROMAZEPAM", "6MG", 30, 0, 230, NATURE["pharmacy_30"]),
    Drug("N05CD06", "LORMETAZEPAM", "1MG", 14, 0, 160, NATURE["pharmacy_30"]),
    Drug("N05CF01", "ZOPICLONE", "7,5MG", 14, 0, 150, NATURE["pharmacy_30"]),
    Drug("N05CF02", "ZOLPIDEM", "10MG", 14, 0, 180, NATURE["pharmacy_30"]),
    Drug("N05AH04", "QUETIAPINE", "300MG", 30, 0, 4210),
    Drug("N05AX08", "RISPERIDONE", "2MG", 30, 0, 2230),
    Drug("N02AX02", "TRAMADOL", "50MG", 30, 0, 310),
    Drug("N02AA01", "MORPHINE", "30MG", 14, 0, 720),
    Drug("M05BA04", "ACIDE ALENDRONIQUE", "70MG", 4, 12, 1480),
    # drugs added after the first 30 go at the end, so that every earlier pack keeps its code;
    # a scenario that does not use them writes no pack of them (referential.write_pha)
    Drug("J01FA09", "CLARITHROMYCINE", "500MG", 14, 0, 1190, daily_units=2),  # a 7-day course
)
DRUG_INDEX = {d.atc7: i for i, d in enumerate(DRUGS)}


def ean13(stem12: str) -> str:
    """Append the EAN-13 check digit (the one CIP13 codes use) to a 12-digit stem."""
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(stem12))
    return stem12 + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class Pack:
    cip13: str
    drug: int  # index into DRUGS
    units: int
    large: bool  # GC
    price_cents: int
    strength: str = ""  # as on the box: "30MG", "0,25MG", "250µG", "100UI/ML"
    variant: int = 0  # 0: the drug's base strength, k: its k-th other strength


def packs() -> tuple[Pack, ...]:
    """Two packs per drug and strength (small NGC, large GC when it exists), invented CIP13
    codes: the base strengths first, in drug order, then the other strengths, so that every
    earlier pack keeps its code."""
    out: list[Pack] = []
    for i, d in enumerate(DRUGS):
        out.append(Pack(ean13(f"34009{3000000 + 17 * i:07d}"), i, d.ngc_units, False, d.price_cents, d.strength))
        if d.gc_units:
            price = int(d.price_cents * d.gc_units / d.ngc_units * 0.9)
            out.append(Pack(ean13(f"34009{5000000 + 17 * i:07d}"), i, d.gc_units, True, price, d.strength))
    for i, d in enumerate(DRUGS):
        for v, (label, _) in enumerate(d.strengths, start=1):
            out.append(Pack(ean13(f"34009{7000000 + 17 * i + v:07d}"), i, d.ngc_units, False, d.price_cents,
                            label, v))
            if d.gc_units:
                price = int(d.price_cents * d.gc_units / d.ngc_units * 0.9)
                out.append(Pack(ean13(f"34009{8000000 + 17 * i + v:07d}"), i, d.gc_units, True, price, label, v))
    return tuple(out)


PACKS = packs()
# packs whose referential line has no dosage, as a few real ones (issue 26: never guessed)
NO_DOSAGE = frozenset({ean13(f"34009{5000000 + 17 * 15:07d}"),  # aspirin, large pack
                       ean13(f"34009{3000000 + 17 * 21:07d}")})  # bromazepam


def dosage(strength: str) -> tuple[str, str]:
    """A box's strength as IR_PHA_R writes it: the dosage per unit and its unit
    ("0,25MG" -> ("0,25", "MG"), "100UI/ML" -> ("100", "UI/ML"))."""
    m = re.match(r"^([0-9]+(?:,[0-9]+)?)(.*)$", strength)
    return (m.group(1), m.group(2)) if m else ("", "")


def strength_mg(pack: int) -> float:
    """The dosage of one unit of pack ``pack`` in mg (nan when not a mass)."""
    value, unit = dosage(PACKS[pack].strength)
    factor = {"MG": 1.0, "G": 1000.0, "µG": 0.001}.get(unit)
    return float(value.replace(",", ".")) * factor if factor and value else float("nan")


def _pack_mg() -> np.ndarray:
    """mg of active substance in each pack (nan when its strength is not a mass)."""
    return np.array([p.units * strength_mg(k) for k, p in enumerate(PACKS)])


PACK_MG = _pack_mg()


def _variant_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each pack: the pack of each of its molecule's strengths (0: itself), the cumulative
    shares of the other strengths (padded with inf) and their number (0 for a variant pack)."""
    width = 1 + max(len(d.strengths) for d in DRUGS)
    target = np.tile(np.arange(len(PACKS))[:, None], (1, width))
    edges = np.full((len(PACKS), max(width - 1, 1)), np.inf)
    count = np.zeros(len(PACKS), np.int64)
    base = {(p.drug, p.large): k for k, p in enumerate(PACKS) if p.variant == 0}
    for j, q in enumerate(PACKS):
        if q.variant:
            target[base[(q.drug, q.large)], q.variant] = j
        elif DRUGS[q.drug].strengths:
            shares = np.cumsum([w for _, w in DRUGS[q.drug].strengths])
            edges[j, : len(shares)] = shares
            count[j] = len(shares)
    return target, edges, count


_VARIANT_PACK, _VARIANT_EDGES, _VARIANT_COUNT = _variant_tables()


def with_strengths(pack: np.ndarray, patient_index: np.ndarray, episode: np.ndarray) -> np.ndarray:
    """The packs of some fills moved to the molecule's other strengths, one strength per patient
    and episode (a patient keeps the strength of a treatment course), chosen by a hash of the
    two: no random draw, so every other value of the extract stays what it was."""
    u = ((patient_index.astype(np.int64) * 2654435761 + (episode.astype(np.int64) + 1) * 40503) % 10007) / 10007
    passed = (u[:, None] >= _VARIANT_EDGES[pack]).sum(axis=1)
    variant = np.where(passed < _VARIANT_COUNT[pack], passed + 1, 0)
    return _VARIANT_PACK[pack, variant].astype(pack.dtype)

# Outcomes and their hospital coding; DAS and acts that come with them.
OUTCOME_CODES = {
    "C67": ("C679", "C670", "C672"),
    "I50": ("I500", "I501", "I509"),
    "I21": ("I219", "I210", "I214"),
    "S72": ("S720", "S721", "S722"),
    "J18": ("J189",),
    "N39": ("N390",),
    "E87": ("E875",),  # hyperkalaemia
    "M62": ("M62890",),  # rhabdomyolysis (CIM-10-FR extension of M62.8)
}
OUTCOME_GHM = {
    "C67": "11C02J",
    "I50": "05M09T",
    "I21": "05M04T",
    "S72": "08C47T",
    "J18": "04M05T",
    "N39": "11M04T",
    "E87": "10M13T",  # assumption (docs/synth.md)
    "M62": "08M22T",  # assumption (docs/synth.md)
}
OUTCOME_ACTS = {
    "C67": ("JDFE002", "JDFE002", "JDFA003", "JDFA008"),
    "I21": ("DEQP003", "DDAF001"),
    "S72": ("NEKA020", "NEKA011", "NBCA005", "NBCA006", "NBCA010"),
    "I50": ("DZQM006", "DEQP003"),
}
METASTASES = ("C787", "C780", "C795")

# Background stays: principal diagnoses outside the outcome list, with a GHM each.
BACKGROUND_DP = (
    ("K802", "07C14T"),
    ("K358", "06C09T"),
    ("H251", "02C05J"),
    ("M170", "08C24T"),
    ("I480", "05M12T"),
    ("J441", "04M20T"),
    ("N179", "11M06T"),
    ("I259", "05M10T"),
    ("R296", "23M03T"),
    ("A099", "06M05T"),
    ("K290", "06M04T"),
    ("J960", "04M03T"),
)
BACKGROUND_ACTS = {"K802": "HMFC004", "K358": "HHFA016", "H251": "BFGA427", "M170": "NFKA007"}
DEATH_DP = (("Z515", "23Z02T"), ("R54", "23M03T"), ("J441", "04M20T"), ("I259", "05M10T"))
ERROR_GHM = "90Z00Z"

# Chronic conditions: ICD-10 code, ALD number (0 = none).
CONDITION_CODES = {
    "diabetes": ("E119", 8),
    "hypertension": ("I10", 0),
    "dyslipidemia": ("E785", 0),
    "heart_failure": ("I509", 5),
    "depression": ("F329", 23),
    "anxiety": ("F411", 0),
    "insomnia": ("G470", 0),
    "dementia": ("G309", 15),
    "psychosis": ("F209", 23),
    "chronic_pain": ("M545", 0),
    "osteoporosis": ("M819", 0),
    "cancer": ("C509", 30),
}

# Lab tests (NABM) and eye exams (CCAM).
NABM = {"hba1c": "1577", "creatinine": "592", "lipids": "996", "microalbumin": "1133",
        "ionogram": "1610", "tsh": "1208", "blood_count": "1104", "transaminases": "522"}
EYE_ACTS = ("BGQP002", "BGQP007")
CARDIO_ACT = "DEQP003"

# Residence departments (BEN_RES_DPT, 3 characters) and rough population weights.
DEPARTMENTS = (
    ("075", 3.3), ("013", 3.0), ("059", 3.9), ("069", 2.8), ("092", 2.4), ("093", 2.4),
    ("033", 2.4), ("031", 2.0), ("044", 2.1), ("006", 1.6), ("067", 1.7), ("034", 1.7),
    ("035", 1.6), ("062", 2.2), ("076", 1.9), ("038", 1.9), ("083", 1.6), ("057", 1.5),
    ("029", 1.4), ("045", 1.0), ("021", 0.8), ("063", 1.0), ("087", 0.6), ("02A", 0.2),
    ("02B", 0.3), ("971", 0.6), ("974", 1.3), ("001", 0.9), ("014", 1.0), ("080", 0.8),
)
