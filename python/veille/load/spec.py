"""What the loader reads from each SNDS table (the input contract, ../shared/snds/README.md).

Required columns stop the load when missing; optional ones are read when present.
Column names are matched case-insensitively; any other column is ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NINE_KEYS = (
    "DCT_ORD_NUM", "FLX_DIS_DTD", "FLX_EMT_NUM", "FLX_EMT_ORD", "FLX_EMT_TYP",
    "FLX_TRT_DTD", "ORG_CLE_NUM", "PRS_ORD_NUM", "REM_TYP_AFF",
)


@dataclass(frozen=True)
class TableSpec:
    name: str  # the official table name (PMSI with "aa")
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    order: int = 0  # normalization order (referentials first)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required + self.optional


SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in [
        TableSpec("IR_PHA_R", ("PHA_CIP_C13", "PHA_ATC_C07"),
                  ("PHA_NOM_PA", "PHA_MED_NOM", "PHA_CND_TOP", "PHA_UNT_NBR_DSES", "PHA_DOS_PRA_DSES",
                   "PHA_DOS_UNT_DSES"), 0),
        TableSpec("IR_CIM_V", ("CIM_COD",), ("CIM_LIB",), 0),
        TableSpec("IR_CCAM_V", ("CAM_PRS_IDE_COD",), ("CAM_PRS_IDE_LIB",), 0),
        TableSpec("IR_BIO_R", ("BIO_PRS_IDE",), ("BIO_INF_LIB",), 0),
        TableSpec("IR_BEN_R", ("BEN_NIR_PSA", "BEN_RNG_GEM", "BEN_SEX_COD", "BEN_NAI_ANN"),
                  ("BEN_NAI_MOI", "BEN_DCD_DTE", "BEN_RES_DPT", "BEN_DTE_INS"), 1),
        TableSpec("IR_IMB_R", ("BEN_NIR_PSA", "BEN_RNG_GEM", "IMB_ALD_DTD", "MED_MTF_COD"),
                  ("IMB_ALD_NUM", "IMB_ALD_DTF", "IMB_ETM_NAT"), 2),
        TableSpec("ER_PRS_F", NINE_KEYS + ("BEN_NIR_PSA", "BEN_RNG_GEM", "EXE_SOI_DTD",
                                           "PRS_NAT_REF", "DPN_QLF"),
                  ("EXE_SOI_DTF", "BSE_PRS_NAT", "PRS_ACT_QTE", "PRS_PAI_MNT", "BSE_REM_MNT",
                   "PFS_EXE_NUM", "PFS_PRE_NUM", "PSE_SPE_COD", "PSP_SPE_COD", "ETB_PRE_FIN"), 3),
        TableSpec("ER_PHA_F", NINE_KEYS + ("PHA_PRS_C13", "PHA_ACT_QSN"), ("PHA_ACT_PRU", "PHA_ORD_NUM"), 4),
        TableSpec("ER_CAM_F", NINE_KEYS + ("CAM_PRS_IDE",), ("CAM_ORD_NUM",), 4),
        TableSpec("ER_BIO_F", NINE_KEYS + ("BIO_PRS_IDE",), ("BIO_ACT_QSN", "BIO_ORD_NUM"), 4),
        TableSpec("ER_ETE_F", NINE_KEYS + ("ETE_IND_TAA",), ("ETB_EXE_FIN", "ETE_CAT_COD"), 4),
        TableSpec("T_MCOaaC", ("ETA_NUM", "RSA_NUM", "NIR_ANO_17", "EXE_SOI_DTD", "EXE_SOI_DTF"),
                  ("NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET"), 5),
        TableSpec("T_MCOaaB", ("ETA_NUM", "RSA_NUM", "DGN_PAL", "GRG_GHM"),
                  ("DGN_REL", "SEJ_NBJ", "SEJ_TYP", "ENT_MOD", "SOR_MOD", "SOR_ANN", "SOR_MOI"), 5),
        TableSpec("T_MCOaaD", ("ETA_NUM", "RSA_NUM", "ASS_DGN"), (), 6),
        TableSpec("T_MCOaaA", ("ETA_NUM", "RSA_NUM", "CDC_ACT"), ("ENT_DAT_DEL",), 6),
    ]
}

# Typed columns: parsed once per distinct value through a dictionary (see functions.sql);
# the SQL reads <col>__d / __bad (dates), <col>__i / __ibad (integers), <col>__n (amounts).
DATE_COLUMNS = frozenset({
    "BEN_DCD_DTE", "BEN_DTE_INS", "EXE_SOI_DTD", "EXE_SOI_DTF", "FLX_DIS_DTD", "FLX_TRT_DTD",
    "IMB_ALD_DTD", "IMB_ALD_DTF",
})
INT_COLUMNS = frozenset({
    "BEN_NAI_ANN", "BEN_RNG_GEM", "BEN_SEX_COD", "BIO_ACT_QSN", "DPN_QLF", "ENT_DAT_DEL",
    "ETE_IND_TAA", "IMB_ALD_NUM", "PHA_ACT_QSN", "PHA_UNT_NBR_DSES", "PRS_ACT_QTE", "PRS_NAT_REF",
    "SEJ_NBJ",
})
MONTH_COLUMNS = frozenset({"BEN_NAI_MOI"})  # '03' or '201903'
NUM_COLUMNS = frozenset({"BSE_REM_MNT", "PHA_DOS_PRA_DSES", "PRS_PAI_MNT"})

# Return codes of T_MCOaaC: a stay is kept only when every one present equals 0.
RETURN_CODES = ("NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET")

_PMSI = re.compile(r"^T_MCO(\d{2}|AA)([ABCD])(?:_.*)?$")
_SIMPLE = re.compile(
    r"^(IR_BEN_R|IR_IMB_R|IR_PHA_R|IR_CIM_V|IR_BIO_R|ER_PRS_F|ER_PHA_F|ER_CAM_F|ER_BIO_F|ER_ETE_F)"
    r"(?:_.*)?$"
)
_CCAM = re.compile(r"^IR_CCAM_V\d*(?:_.*)?$")


def table_of(stem: str) -> tuple[str, int | None] | None:
    """The table a file stem belongs to and, for PMSI, its year; None when not ours.

    >>> table_of("ER_PRS_F_2019_01"), table_of("T_MCO19B"), table_of("t_mcoaaC")
    (('ER_PRS_F', None), ('T_MCOaaB', 2019), ('T_MCOaaC', None))
    """
    s = stem.upper()
    if m := _PMSI.match(s):
        year = None if m.group(1) == "AA" else 2000 + int(m.group(1))
        return f"T_MCOaa{m.group(2)}", year
    if _CCAM.match(s):
        return "IR_CCAM_V", None
    if m := _SIMPLE.match(s):
        return m.group(1), None
    return None
