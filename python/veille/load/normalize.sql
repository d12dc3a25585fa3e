-- Normalization of the landed files into claims, ref and meta. Runs inside the load's single
-- transaction, in its work schema (load_work: unlogged tables made and dropped in the
-- transaction), after the loader has created one view per table:
--   src_<table>(_batch, _line, _year, <spec columns as text>)
-- (an empty view when the extract brings no file of that table). Each step writes the rows
-- that break the contract into rej(_batch, _line, col, val, reason: the file name comes from
-- meta.load_batch) and the rows that
-- a cleaning rule removes into drp(_batch, reason).
-- Every DCIR work table keeps the parsed FLX_DIS_DTD as flx (the loader reads each file's first
-- flow month from it). Sections are separated by lines "-- step: <name>" so that the loader can time them.

-- Every work table is analyzed once made: PostgreSQL has no statistics for a new table, and
-- without them it guesses a few rows where there are millions (then sorts where it should hash).

-- step: referentials
insert into rej
select _batch, _line, 'PHA_CIP_C13', pha_cip_c13, 'CIP13 is not 13 digits'
from src_ir_pha_r where btrim(coalesce(pha_cip_c13, '')) !~ '^\d{13}$';
insert into rej
select _batch, _line, 'PHA_ATC_C07', pha_atc_c07, 'not an ATC7 code'
from src_ir_pha_r
where btrim(coalesce(pha_cip_c13, '')) ~ '^\d{13}$'
  and btrim(coalesce(pha_atc_c07, '')) <> ''
  and upper(btrim(pha_atc_c07)) !~ '^[A-Z]\d{2}[A-Z]{2}\d{2}$';

-- what the drug referential was for the packs this load brings (its changes, below, make every
-- patient's exposure be recomputed by the next incremental dbt build)
create unlogged table drug_before as
select cip13, atc7, pack_type, units_per_pack, dosage, dosage_unit from ref.drug
where cip13 in (select btrim(pha_cip_c13) from src_ir_pha_r);

insert into ref.drug (cip13, atc7, molecule, product_name, pack_type, units_per_pack,
                      dosage_text, dosage, dosage_unit)
select distinct on (btrim(pha_cip_c13))
    btrim(pha_cip_c13),
    nullif(upper(btrim(pha_atc_c07)), ''),
    nullif(btrim(pha_nom_pa), ''),
    nullif(btrim(pha_med_nom), ''),
    case when upper(btrim(pha_cnd_top)) = 'GC' then 'GC' else 'NGC' end,
    case when pha_unt_nbr_dses__i > 0 then pha_unt_nbr_dses__i end,
    nullif(btrim(pha_dos_pra_dses), ''),
    case when round(pha_dos_pra_dses__n, 6) > 0 and pha_dos_pra_dses__n < 1e12 then round(pha_dos_pra_dses__n, 6) end,
    nullif(btrim(pha_dos_unt_dses), '')
from src_ir_pha_r
where btrim(coalesce(pha_cip_c13, '')) ~ '^\d{13}$'
  and (btrim(coalesce(pha_atc_c07, '')) = ''
       or upper(btrim(pha_atc_c07)) ~ '^[A-Z]\d{2}[A-Z]{2}\d{2}$')
order by btrim(pha_cip_c13), _batch desc, _line desc
on conflict (cip13) do update set
    atc7 = excluded.atc7, molecule = excluded.molecule, product_name = excluded.product_name,
    pack_type = excluded.pack_type, units_per_pack = excluded.units_per_pack,
    -- a CIP13 names one presentation, whose dosage does not change: a later referential without
    -- the dosage columns (or with them empty) keeps the one loaded before
    dosage_text = coalesce(excluded.dosage_text, ref.drug.dosage_text),
    dosage = case when excluded.dosage_text is null then ref.drug.dosage else excluded.dosage end,
    dosage_unit = case when excluded.dosage_text is null then ref.drug.dosage_unit else excluded.dosage_unit end;

insert into ref.icd10 (code, label)
select distinct on (c) c, nullif(btrim(cim_lib), '')
from (select upper(replace(btrim(cim_cod), '.', '')) as c, * from src_ir_cim_v) s
where c ~ '^[A-Z]\d{2}[0-9A-Z+]{0,3}$'
order by c, _batch desc, _line desc
on conflict (code) do update set label = excluded.label;

insert into ref.ccam (code, label)
select distinct on (c) c, nullif(btrim(cam_prs_ide_lib), '')
from (select upper(btrim(cam_prs_ide_cod)) as c, * from src_ir_ccam_v) s
where c ~ '^[A-Z]{4}\d{3}$'
order by c, _batch desc, _line desc
on conflict (code) do update set label = excluded.label;

insert into ref.nabm (code, label)
select distinct on (c) c, nullif(btrim(bio_inf_lib), '')
from (select lpad(btrim(bio_prs_ide), 4, '0') as c, * from src_ir_bio_r) s
where c ~ '^\d{4}$'
order by c, _batch desc, _line desc
on conflict (code) do update set label = excluded.label;

-- step: patients
create unlogged table n_ben as
select
    _batch, _line,
    btrim(ben_nir_psa) as nir,
    ben_rng_gem__i as rng,
    case ben_sex_cod__i when 1 then 1 when 2 then 2 end as sex,
    ben_nai_ann__i as birth_year,
    case when ben_nai_moi__i between 1 and 12
         then ben_nai_moi__i end as birth_month,
    ben_dcd_dte__d as death_date,
    nullif(btrim(ben_res_dpt), '') as dpt,
    ben_dte_ins__d as rights_date,
    case
        when btrim(coalesce(ben_nir_psa, '')) = '' then array['BEN_NIR_PSA', ben_nir_psa, 'missing patient key']
        when length(btrim(ben_nir_psa)) > 17 then array['BEN_NIR_PSA', ben_nir_psa, 'patient key longer than 17 characters']
        when ben_rng_gem__i is null then array['BEN_RNG_GEM', ben_rng_gem, 'missing or non-numeric birth rank']
        when ben_nai_ann__i is null
            or ben_nai_ann__i not between 1880 and extract(year from current_date)::int
            then array['BEN_NAI_ANN', ben_nai_ann, 'birth year missing or out of range']
        when ben_dcd_dte__bad then array['BEN_DCD_DTE', ben_dcd_dte, 'unparseable date']
        when extract(year from ben_dcd_dte__d) < ben_nai_ann__i
            then array['BEN_DCD_DTE', ben_dcd_dte, 'death before birth']
    end as rej
from src_ir_ben_r;
analyze n_ben;

insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_ben where rej is not null;

-- the patients' rows before this load (their changes are logged at the end)
create unlogged table ben_before as
select p.* from claims.patient p
join (select distinct nir, rng from n_ben where rej is null) b on p.ben_nir_psa = b.nir and p.ben_rng_gem = b.rng;

insert into claims.patient (ben_nir_psa, ben_rng_gem, sex, birth_year, birth_month, death_date,
                            residence_dpt, rights_date)
select distinct on (nir, rng) nir, rng, sex, birth_year, birth_month, death_date, dpt, rights_date
from n_ben where rej is null
order by nir, rng, _batch desc, _line desc
on conflict (ben_nir_psa, ben_rng_gem) do update set
    sex = excluded.sex, birth_year = excluded.birth_year, birth_month = excluded.birth_month,
    death_date = coalesce(excluded.death_date, claims.patient.death_date),
    residence_dpt = excluded.residence_dpt, rights_date = excluded.rights_date;

-- lookup of DCIR identities, and of PMSI identities (NIR_ANO_17 = BEN_NIR_PSA, one rank only)
create unlogged table pat as
select ben_nir_psa as nir, ben_rng_gem as rng, patient_id from claims.patient;
create index on pat (nir, rng);
create unlogged table pat17 as
select ben_nir_psa as nir, min(patient_id) as patient_id, count(*) as n
from claims.patient group by ben_nir_psa;
create index on pat17 (nir);
analyze pat; analyze pat17;

-- step: ald
insert into rej
select s._batch, s._line, r[1], r[2], r[3]
from src_ir_imb_r s
left join pat p on p.nir = btrim(s.ben_nir_psa) and p.rng = s.ben_rng_gem__i
cross join lateral (select case
    when p.patient_id is null then array['BEN_NIR_PSA', s.ben_nir_psa, 'unknown patient (not in IR_BEN_R)']
    when s.imb_ald_dtd__d is null then array['IMB_ALD_DTD', s.imb_ald_dtd, 'missing or unparseable date']
    when s.imb_ald_dtf__bad then array['IMB_ALD_DTF', s.imb_ald_dtf, 'unparseable date']
    when s.imb_ald_dtf__d < s.imb_ald_dtd__d then array['IMB_ALD_DTF', s.imb_ald_dtf, 'ALD end before its start']
    end as r) x
where r is not null;

create unlogged table ins_ald as
with i as (
insert into claims.ald (patient_id, ald_number, icd10, start_date, end_date, batch_id)
select distinct on (p.patient_id, s.imb_ald_num__i, upper(btrim(s.med_mtf_cod)), s.imb_ald_dtd__d)
    p.patient_id, s.imb_ald_num__i::smallint,
    nullif(left(upper(replace(btrim(s.med_mtf_cod), '.', '')), 6), ''),
    s.imb_ald_dtd__d, s.imb_ald_dtf__d, s._batch
from src_ir_imb_r s
join pat p on p.nir = btrim(s.ben_nir_psa) and p.rng = s.ben_rng_gem__i
where s.imb_ald_dtd__d is not null
  and not s.imb_ald_dtf__bad
  and (s.imb_ald_dtf__d is null or s.imb_ald_dtf__d >= s.imb_ald_dtd__d)
  and not exists (
      select 1 from claims.ald a
      where a.patient_id = p.patient_id and a.start_date = s.imb_ald_dtd__d
        and a.ald_number is not distinct from s.imb_ald_num__i::smallint
        and a.icd10 is not distinct from nullif(left(upper(replace(btrim(s.med_mtf_cod), '.', '')), 6), ''))
order by p.patient_id, s.imb_ald_num__i, upper(btrim(s.med_mtf_cod)), s.imb_ald_dtd__d,
         s._batch desc, s._line desc
returning patient_id, batch_id, start_date
)
select * from i;

-- step: service lines
-- key_rank: a key seen twice is a broken extract; the first usable line keeps it (ranked below,
-- among the lines of duplicated keys only: no sort of every line)
create unlogged table n_prs as
select
    s._batch, s._line, 1::bigint as key_rank, s.flx_dis_dtd__d as flx,
    load_work.k9(s.dct_ord_num, s.flx_dis_dtd__d, s.flx_emt_num, s.flx_emt_ord, s.flx_emt_typ,
               s.flx_trt_dtd__d, s.org_cle_num, s.prs_ord_num, s.rem_typ_aff) as k,
    p.patient_id,
    s.exe_soi_dtd__d as date_start,
    s.exe_soi_dtf__d as date_end,
    coalesce(date_trunc('month', s.flx_dis_dtd__d)::date,
             date_trunc('month', s.exe_soi_dtd__d)::date) as flow_month,
    s.prs_nat_ref__i as nature,
    s.dpn_qlf__i as dpn_qlf,
    s.prs_act_qte__i as qty,
    round(s.prs_pai_mnt__n, 2) as paid,
    round(s.bse_rem_mnt__n, 2) as reimbursed,
    load_work.pid(s.pfs_exe_num) as exe,
    load_work.pid(s.pfs_pre_num) as pre,
    nullif(btrim(s.pse_spe_cod), '') as exe_spe,
    nullif(btrim(s.psp_spe_cod), '') as pre_spe,
    case
        when s.dct_ord_num is null or s.flx_dis_dtd__d is null or s.flx_emt_num is null
             or s.flx_emt_ord is null or s.flx_emt_typ is null or s.flx_trt_dtd__d is null
             or s.org_cle_num is null or s.prs_ord_num is null or s.rem_typ_aff is null
            then array['DCT_ORD_NUM..REM_TYP_AFF', null, 'missing or unparseable join key']
        when p.patient_id is null then array['BEN_NIR_PSA', s.ben_nir_psa, 'unknown patient (not in IR_BEN_R)']
        when s.exe_soi_dtd__d is null then array['EXE_SOI_DTD', s.exe_soi_dtd, 'missing or unparseable date']
        when s.exe_soi_dtf__bad then array['EXE_SOI_DTF', s.exe_soi_dtf, 'unparseable date']
        when s.prs_nat_ref__i is null then array['PRS_NAT_REF', s.prs_nat_ref, 'missing or non-numeric nature code']
    end as rej,
    case when s.dpn_qlf__i = 71 then 'DPN_QLF = 71 (information-only line)' end as drop_reason
from src_er_prs_f s
left join pat p on p.nir = btrim(s.ben_nir_psa) and p.rng = s.ben_rng_gem__i;
analyze n_prs;

create unlogged table dup_prs as
select _batch, _line, row_number() over (partition by k order by (rej is null) desc, _batch, _line) as key_rank
from n_prs
where k in (select k from n_prs group by k having count(*) > 1);
update n_prs n set key_rank = d.key_rank,
    rej = coalesce(n.rej, array['DCT_ORD_NUM..REM_TYP_AFF', n.k, 'duplicate service line key'])
from dup_prs d
where d._batch = n._batch and d._line = n._line and d.key_rank > 1;

-- facility lines of public hospitals are already in PMSI
create unlogged table n_ete as
select s._batch, s._line, s.flx_dis_dtd__d as flx,
    load_work.k9(s.dct_ord_num, s.flx_dis_dtd__d, s.flx_emt_num, s.flx_emt_ord, s.flx_emt_typ,
               s.flx_trt_dtd__d, s.org_cle_num, s.prs_ord_num, s.rem_typ_aff) as k,
    s.ete_ind_taa__i as taa,
    load_work.pid(s.etb_exe_fin) as facility
from src_er_ete_f s;
create index on n_ete (k);
analyze n_ete;
update n_prs set drop_reason = 'ETE_IND_TAA = 1 (public hospital activity, already in PMSI)'
from n_ete e where e.k = n_prs.k and e.taa = 1 and n_prs.drop_reason is null;

insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_prs where rej is not null;
insert into drp select _batch, drop_reason from n_prs where rej is null and drop_reason is not null;

-- usable service lines (first of each key) for the detail tables
create view prs1 as select * from n_prs where key_rank = 1;

-- step: dispensings
create unlogged table n_pha as
select s._batch, s._line, s.flx_dis_dtd__d as flx, pr.patient_id, pr.date_start as date, pr.flow_month,
    pr.exe as pharmacy, pr.pre as prescriber, pr.paid, pr.reimbursed,
    btrim(s.pha_prs_c13) as cip, s.pha_act_qsn__i as qsn,
    case
        when pr.k is null then array['DCT_ORD_NUM..REM_TYP_AFF', null, 'detail line without its service line (ER_PRS_F)']
        when pr.rej is not null then array[pr.rej[1], pr.rej[2], 'service line rejected: ' || pr.rej[3]]
        when s.pha_act_qsn__i is null then array['PHA_ACT_QSN', s.pha_act_qsn, 'missing or non-numeric quantity']
        when d.cip13 is null then array['PHA_PRS_C13', s.pha_prs_c13, 'unknown CIP13 (not in IR_PHA_R)']
    end as rej,
    case when pr.rej is null then coalesce(pr.drop_reason,
        case when s.pha_act_qsn__i = 0 then 'zero quantity' end) end as drop_reason,
    pr.k,
    coalesce(nullif(btrim(s.pha_ord_num), ''), btrim(s.pha_prs_c13) || '|' || btrim(s.pha_act_qsn), '') as nk
from src_er_pha_f s
left join prs1 pr on pr.k = load_work.k9(s.dct_ord_num, s.flx_dis_dtd__d, s.flx_emt_num, s.flx_emt_ord,
    s.flx_emt_typ, s.flx_trt_dtd__d, s.org_cle_num, s.prs_ord_num, s.rem_typ_aff)
left join ref.drug d on d.cip13 = btrim(s.pha_prs_c13);
analyze n_pha;
select load_work.reject_duplicates('n_pha', 'DCT_ORD_NUM..REM_TYP_AFF, PHA_ORD_NUM (or PHA_PRS_C13, PHA_ACT_QSN)');

-- netting: a dispensing and its regularisation lines share patient, date, pack, pharmacy and
-- prescriber; their signed quantities are summed (also against dispensings of earlier loads)
create unlogged table g_pha as
select patient_id, date, cip, pharmacy, prescriber, sum(qsn) as packs, sum(paid) as paid,
    sum(reimbursed) as reimbursed, min(flow_month) as flow_month, min(_batch) as batch,
    bool_or(qsn < 0) as has_neg
from n_pha where rej is null and drop_reason is null
group by patient_id, date, cip, pharmacy, prescriber;
analyze g_pha;

create unlogged table g_neg as
select g.*, (select max(x.dispensing_id) from claims.dispensing x
             where x.patient_id = g.patient_id and x.dispensing_date = g.date and x.cip13 = g.cip
               and x.pharmacy_id is not distinct from g.pharmacy
               and x.prescriber_id is not distinct from g.prescriber) as target
from g_pha g where g.packs < 0;
analyze g_neg;

create unlogged table g_all as
select g.patient_id, g.date, g.cip, g.pharmacy, g.prescriber, g.packs, n.target
from g_pha g
left join g_neg n on n.patient_id = g.patient_id and n.date = g.date and n.cip = g.cip
    and n.pharmacy is not distinct from g.pharmacy and n.prescriber is not distinct from g.prescriber
where g.has_neg;
analyze g_all;

update n_pha n set
    rej = case when g.packs < 0 and g.target is null
               then array['PHA_ACT_QSN', n.qsn::text, 'regularisation without a dispensing to cancel'] end,
    drop_reason = case
        when g.packs = 0 then 'cancelled by a regularisation line'
        when g.packs > 0 and n.qsn < 0 then 'regularisation line (netted)'
        when g.packs < 0 and g.target is not null then 'regularisation of an earlier load (netted)' end
from g_all g
where n.rej is null and n.drop_reason is null and n.patient_id = g.patient_id
  and n.date = g.date and n.cip = g.cip and n.pharmacy is not distinct from g.pharmacy
  and n.prescriber is not distinct from g.prescriber;

delete from claims.dispensing d using g_neg g where g.target = d.dispensing_id and d.packs + g.packs <= 0;
update claims.dispensing d set packs = d.packs + g.packs,
    amount_paid = d.amount_paid + coalesce(g.paid, 0),
    amount_reimbursed = d.amount_reimbursed + coalesce(g.reimbursed, 0)
from g_neg g where g.target = d.dispensing_id and d.packs + g.packs > 0;

insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_pha where rej is not null;
insert into drp select _batch, drop_reason from n_pha where rej is null and drop_reason is not null;

-- step: acts and lab tests
create unlogged table n_cam as
select s._batch, s._line, s.flx_dis_dtd__d as flx, pr.patient_id, pr.date_start as date, pr.flow_month, pr.exe,
    upper(btrim(s.cam_prs_ide)) as code,
    case
        when pr.k is null then array['DCT_ORD_NUM..REM_TYP_AFF', null, 'detail line without its service line (ER_PRS_F)']
        when pr.rej is not null then array[pr.rej[1], pr.rej[2], 'service line rejected: ' || pr.rej[3]]
        when upper(btrim(coalesce(s.cam_prs_ide, ''))) !~ '^[A-Z]{4}\d{3}$' then array['CAM_PRS_IDE', s.cam_prs_ide, 'not a CCAM code']
    end as rej,
    case when pr.rej is null then pr.drop_reason end as drop_reason, pr.k,
    coalesce(nullif(btrim(s.cam_ord_num), ''), upper(btrim(s.cam_prs_ide)), '') as nk
from src_er_cam_f s
left join prs1 pr on pr.k = load_work.k9(s.dct_ord_num, s.flx_dis_dtd__d, s.flx_emt_num, s.flx_emt_ord,
    s.flx_emt_typ, s.flx_trt_dtd__d, s.org_cle_num, s.prs_ord_num, s.rem_typ_aff);
analyze n_cam;
select load_work.reject_duplicates('n_cam', 'DCT_ORD_NUM..REM_TYP_AFF, CAM_ORD_NUM (or CAM_PRS_IDE)');
insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_cam where rej is not null;
insert into drp select _batch, drop_reason from n_cam where rej is null and drop_reason is not null;

create unlogged table n_bio as
select s._batch, s._line, s.flx_dis_dtd__d as flx, pr.patient_id, pr.date_start as date, pr.flow_month, pr.exe, pr.pre,
    lpad(btrim(s.bio_prs_ide), 4, '0') as code, coalesce(s.bio_act_qsn__i, 1) as qty,
    case
        when pr.k is null then array['DCT_ORD_NUM..REM_TYP_AFF', null, 'detail line without its service line (ER_PRS_F)']
        when pr.rej is not null then array[pr.rej[1], pr.rej[2], 'service line rejected: ' || pr.rej[3]]
        when btrim(coalesce(s.bio_prs_ide, '')) !~ '^\d{1,4}$' then array['BIO_PRS_IDE', s.bio_prs_ide, 'not a NABM code']
    end as rej,
    case when pr.rej is null then pr.drop_reason end as drop_reason, pr.k,
    coalesce(nullif(btrim(s.bio_ord_num), ''), btrim(s.bio_prs_ide) || '|' || coalesce(btrim(s.bio_act_qsn), ''), '') as nk
from src_er_bio_f s
left join prs1 pr on pr.k = load_work.k9(s.dct_ord_num, s.flx_dis_dtd__d, s.flx_emt_num, s.flx_emt_ord,
    s.flx_emt_typ, s.flx_trt_dtd__d, s.org_cle_num, s.prs_ord_num, s.rem_typ_aff);
analyze n_bio;
select load_work.reject_duplicates('n_bio', 'DCT_ORD_NUM..REM_TYP_AFF, BIO_ORD_NUM (or BIO_PRS_IDE, BIO_ACT_QSN)');
insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_bio where rej is not null;
insert into drp select _batch, drop_reason from n_bio where rej is null and drop_reason is not null;

-- step: providers
insert into claims.provider (provider_id, kind, specialty)
select distinct on (id) id, kind, spe from (
    select pharmacy as id, 'pharmacy' as kind, null::text as spe, 1 as pri
    from n_pha where rej is null and drop_reason is null and pharmacy is not null group by pharmacy
    union all
    select pre, 'professional', max(pre_spe), 2 from prs1 where rej is null and pre is not null group by pre
    union all
    select exe, 'professional', max(exe_spe), 3 from prs1 p
    where rej is null and exe is not null
      and not exists (select 1 from n_pha x where x.k = p.k)
    group by exe
    union all
    select facility, 'facility', null, 4 from n_ete where facility is not null group by facility
) c
order by id, pri, spe nulls last
on conflict (provider_id) do update
    set specialty = coalesce(claims.provider.specialty, excluded.specialty);

-- step: insert claims
-- the keys of the service lines that have a drug, CCAM or lab detail (not service_line rows)
create unlogged table detail_keys as
select k from n_pha where k is not null
union all select k from n_cam where k is not null
union all select k from n_bio where k is not null;
analyze detail_keys;

create unlogged table ins_dispensing as
with i as (
insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, prescriber_id, pharmacy_id,
                               amount_paid, amount_reimbursed, flow_month, batch_id)
select patient_id, date, cip, packs, prescriber, pharmacy, paid, reimbursed, flow_month, batch
from g_pha where packs > 0
order by patient_id, date
returning patient_id, cip13, prescriber_id, pharmacy_id, batch_id, dispensing_date
)
select * from i;

create unlogged table ins_medical_act as
with i as (
insert into claims.medical_act (patient_id, act_date, ccam_code, provider_id, flow_month, batch_id)
select patient_id, date, code, exe, flow_month, _batch
from n_cam where rej is null and drop_reason is null order by patient_id, date
returning patient_id, provider_id, batch_id, act_date
)
select * from i;

create unlogged table ins_lab_test as
with i as (
insert into claims.lab_test (patient_id, test_date, nabm_code, quantity, provider_id, prescriber_id,
                             flow_month, batch_id)
select patient_id, date, code, qty, exe, pre, flow_month, _batch
from n_bio where rej is null and drop_reason is null order by patient_id, date
returning patient_id, provider_id, prescriber_id, batch_id, test_date
)
select * from i;

create unlogged table ins_service_line as
with i as (
insert into claims.service_line (patient_id, service_date, end_date, nature_code, quantity,
    provider_id, provider_specialty, prescriber_id, facility_id, amount_paid, amount_reimbursed,
    flow_month, batch_id)
select p.patient_id, p.date_start, case when p.date_end >= p.date_start then p.date_end end,
    p.nature, p.qty, p.exe, p.exe_spe, p.pre, e.facility, p.paid, p.reimbursed, p.flow_month, p._batch
from prs1 p
left join (select k, max(facility) as facility from n_ete group by k) e on e.k = p.k
where p.rej is null and p.drop_reason is null
  and not exists (select 1 from detail_keys x where x.k = p.k)
order by p.patient_id, p.date_start
returning patient_id, provider_id, prescriber_id, batch_id, service_date
)
select * from i;

-- step: hospital stays
create unlogged table n_mco_c as
select s._batch, s._line, s._year,
    btrim(s.eta_num) as eta, btrim(s.rsa_num) as rsa,
    p.patient_id,
    s.exe_soi_dtd__d as adm, s.exe_soi_dtf__d as dis,
    case
        when btrim(coalesce(s.eta_num, '')) = '' or btrim(coalesce(s.rsa_num, '')) = ''
            then array['ETA_NUM, RSA_NUM', null, 'missing stay key']
        when p.patient_id is null then array['NIR_ANO_17', s.nir_ano_17, 'unknown patient (not in IR_BEN_R)']
        when p.n > 1 then array['NIR_ANO_17', s.nir_ano_17, 'ambiguous patient link (several BEN_RNG_GEM share this BEN_NIR_PSA)']
        when s.exe_soi_dtd__d is null then array['EXE_SOI_DTD', s.exe_soi_dtd, 'missing or unparseable date']
        when s.exe_soi_dtf__d is null then array['EXE_SOI_DTF', s.exe_soi_dtf, 'missing or unparseable date']
        when s.exe_soi_dtf__d < s.exe_soi_dtd__d then array['EXE_SOI_DTF', s.exe_soi_dtf, 'discharge before admission']
    end as rej,
    case when coalesce(nullif(btrim(s.nir_ret), ''), '0') <> '0' or coalesce(nullif(btrim(s.nai_ret), ''), '0') <> '0'
           or coalesce(nullif(btrim(s.sex_ret), ''), '0') <> '0' or coalesce(nullif(btrim(s.sej_ret), ''), '0') <> '0'
           or coalesce(nullif(btrim(s.fho_ret), ''), '0') <> '0' or coalesce(nullif(btrim(s.pms_ret), ''), '0') <> '0'
           or coalesce(nullif(btrim(s.dat_ret), ''), '0') <> '0'
         then 'return code not 0 (T_MCOaaC)' end as drop_reason
from src_t_mcoaac s
left join pat17 p on p.nir = btrim(s.nir_ano_17);
update n_mco_c set rej = array['ETA_NUM, RSA_NUM', eta || ' ' || rsa, 'duplicate stay key']
from (select _batch as b, _line as l from (select _batch, _line, row_number() over (
      partition by _year, eta, rsa order by _batch, _line) as rn from n_mco_c where rej is null) d
      where rn > 1) dup
where n_mco_c._batch = dup.b and n_mco_c._line = dup.l;
create index on n_mco_c (eta, rsa);
analyze n_mco_c;

create unlogged table n_mco_b as
select s._batch, s._line, s._year, btrim(s.eta_num) as eta, btrim(s.rsa_num) as rsa,
    c.patient_id, c.adm, c.dis, coalesce(nullif(s._year, 0), extract(year from c.dis)::int) as pmsi_year,
    upper(replace(btrim(s.dgn_pal), '.', '')) as dp,
    nullif(upper(replace(btrim(s.dgn_rel), '.', '')), '') as dr,
    nullif(upper(btrim(s.grg_ghm)), '') as ghm,
    s.sej_nbj__i as los, nullif(btrim(s.sej_typ), '') as sej_typ,
    nullif(btrim(s.ent_mod), '') as ent_mod, nullif(btrim(s.sor_mod), '') as sor_mod,
    case
        when c.eta is null then array['ETA_NUM, RSA_NUM', btrim(s.eta_num) || ' ' || btrim(s.rsa_num), 'stay without its T_MCOaaC line']
        when c.rej is not null then array[c.rej[1], c.rej[2], 'T_MCOaaC line rejected: ' || c.rej[3]]
        when upper(replace(btrim(coalesce(s.dgn_pal, '')), '.', '')) !~ '^[A-Z]\d{2}' then array['DGN_PAL', s.dgn_pal, 'missing or invalid principal diagnosis']
    end as rej,
    case when c.rej is null then coalesce(c.drop_reason,
        case when upper(btrim(coalesce(s.grg_ghm, ''))) like '90%' then 'error GHM (90*)' end) end as drop_reason
from src_t_mcoaab s
left join (select distinct on (eta, rsa, _year) * from n_mco_c order by eta, rsa, _year, rej nulls first, _batch, _line) c
    on c.eta = btrim(s.eta_num) and c.rsa = btrim(s.rsa_num) and c._year = s._year;
analyze n_mco_b;
insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_mco_c where rej is not null;
insert into drp select _batch, drop_reason from n_mco_c where rej is null and drop_reason is not null;
insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_mco_b where rej is not null;
insert into drp select _batch, drop_reason from n_mco_b where rej is null and drop_reason is not null;

create unlogged table new_stay as
with ins as (
    insert into claims.hospital_stay (facility_id, rsa_num, pmsi_year, patient_id, admission_date,
        discharge_date, ghm, los_days, stay_type, entry_mode, exit_mode, batch_id)
    select eta, rsa, pmsi_year, patient_id, adm, dis,
        left(ghm, 6), case when los >= 0 then los else dis - adm end, left(sej_typ, 2),
        left(ent_mod, 2), left(sor_mod, 2), _batch
    from n_mco_b where rej is null and drop_reason is null
    on conflict (facility_id, rsa_num, pmsi_year) do nothing
    returning stay_id, facility_id, rsa_num, pmsi_year
)
select i.stay_id, b.* from ins i
join n_mco_b b on b.eta = i.facility_id and b.rsa = i.rsa_num and b.pmsi_year = i.pmsi_year
    and b.rej is null and b.drop_reason is null;
analyze new_stay;
insert into rej select _batch, _line, 'ETA_NUM, RSA_NUM', eta || ' ' || rsa, 'stay already loaded'
from n_mco_b b where rej is null and drop_reason is null
  and not exists (select 1 from new_stay n where n._batch = b._batch and n._line = b._line);
create index on new_stay (eta, rsa, _year);
create view ins_hospital_stay as select stay_id, patient_id, _batch as batch_id from new_stay;

insert into claims.stay_diagnosis (stay_id, icd10, role)
select stay_id, left(dp, 6), 'DP' from new_stay
union
select stay_id, left(dr, 6), 'DR' from new_stay where dr ~ '^[A-Z]\d{2}';

-- the status of each stay key (kept, dropped or rejected), which its diagnoses and acts follow
create unlogged table stay_status as
select distinct on (eta, rsa, _year) eta, rsa, _year, rej, drop_reason
from n_mco_b order by eta, rsa, _year, rej nulls first;
analyze stay_status;

create unlogged table n_mco_d as
select s._batch, s._line, n.stay_id, upper(replace(btrim(s.ass_dgn), '.', '')) as code,
    case
        when n.stay_id is null and b.eta is null then array['ETA_NUM, RSA_NUM', btrim(s.eta_num) || ' ' || btrim(s.rsa_num), 'diagnosis without its stay (T_MCOaaB)']
        when n.stay_id is null and b.rej is not null then array[b.rej[1], b.rej[2], 'stay rejected: ' || b.rej[3]]
        when n.stay_id is not null and upper(replace(btrim(coalesce(s.ass_dgn, '')), '.', '')) !~ '^[A-Z]\d{2}' then array['ASS_DGN', s.ass_dgn, 'not an ICD-10 code']
    end as rej,
    case when n.stay_id is null and b.rej is null and b.eta is not null then coalesce(b.drop_reason, 'stay already loaded') end as drop_reason
from src_t_mcoaad s
left join new_stay n on n.eta = btrim(s.eta_num) and n.rsa = btrim(s.rsa_num) and n._year = s._year
left join stay_status b
    on b.eta = btrim(s.eta_num) and b.rsa = btrim(s.rsa_num) and b._year = s._year;
analyze n_mco_d;
insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_mco_d where rej is not null;
insert into drp select _batch, drop_reason from n_mco_d where rej is null and drop_reason is not null;
insert into claims.stay_diagnosis (stay_id, icd10, role)
select distinct stay_id, left(code, 6), 'DAS' from n_mco_d where rej is null and stay_id is not null
on conflict do nothing;

create unlogged table n_mco_a as
select s._batch, s._line, n.stay_id, upper(btrim(s.cdc_act)) as code,
    n.adm + coalesce(s.ent_dat_del__i, 0) as act_date,
    case
        when n.stay_id is null and b.eta is null then array['ETA_NUM, RSA_NUM', btrim(s.eta_num) || ' ' || btrim(s.rsa_num), 'act without its stay (T_MCOaaB)']
        when n.stay_id is null and b.rej is not null then array[b.rej[1], b.rej[2], 'stay rejected: ' || b.rej[3]]
        when n.stay_id is not null and upper(btrim(coalesce(s.cdc_act, ''))) !~ '^[A-Z]{4}\d{3}$' then array['CDC_ACT', s.cdc_act, 'not a CCAM code']
    end as rej,
    case when n.stay_id is null and b.rej is null and b.eta is not null then coalesce(b.drop_reason, 'stay already loaded') end as drop_reason
from src_t_mcoaaa s
left join new_stay n on n.eta = btrim(s.eta_num) and n.rsa = btrim(s.rsa_num) and n._year = s._year
left join stay_status b
    on b.eta = btrim(s.eta_num) and b.rsa = btrim(s.rsa_num) and b._year = s._year;
analyze n_mco_a;
insert into rej select _batch, _line, rej[1], rej[2], rej[3] from n_mco_a where rej is not null;
insert into drp select _batch, drop_reason from n_mco_a where rej is null and drop_reason is not null;
create unlogged table ins_stay_act as
with i as (
insert into claims.stay_act (stay_id, ccam_code, act_date)
select stay_id, code, act_date from n_mco_a where rej is null and stay_id is not null
returning stay_id
)
select * from i;

insert into claims.provider (provider_id, kind)
select distinct eta, 'facility' from new_stay where eta is not null and length(eta) <= 20
on conflict (provider_id) do nothing;

-- an in-hospital death (exit mode 9) dates a death the referential does not have
create unlogged table death_from_stay as
with u as (
update claims.patient p set death_date = d.dis
from (select patient_id, min(dis) as dis from new_stay where sor_mod = '9' group by patient_id) d
where p.patient_id = d.patient_id and p.death_date is null
returning p.patient_id, p.death_date
)
select * from u;

-- step: change log
-- What this load changed, per patient and source: the earliest care date touched (rows inserted,
-- dispensings netted against a later regularisation), a death date that changed, another
-- referential field that changed (the whole history), a drug pack whose ATC, pack type or units
-- changed (every patient). The loader writes it to meta.load_change under the load's run: the
-- incremental dbt models recompute each patient from that date on (docs/refresh.md).
create unlogged table chg as
select patient_id, 'dispensing'::text as source, min(dispensing_date) as first_date from ins_dispensing group by 1
union all select patient_id, 'dispensing', min(date) from g_neg where target is not null group by 1
union all select patient_id, 'service_line', min(service_date) from ins_service_line group by 1
union all select patient_id, 'medical_act', min(act_date) from ins_medical_act group by 1
union all select patient_id, 'lab_test', min(test_date) from ins_lab_test group by 1
union all select patient_id, 'hospital_stay', min(adm) from new_stay group by 1
union all select patient_id, 'ald', min(start_date) from ins_ald group by 1
union all
select p.patient_id, 'patient', '-infinity'::date
from claims.patient p
join (select distinct nir, rng from n_ben where rej is null) b on p.ben_nir_psa = b.nir and p.ben_rng_gem = b.rng
left join ben_before o on o.patient_id = p.patient_id
where o.patient_id is null
   or (o.sex, o.birth_year, o.birth_month, o.residence_dpt, o.rights_date)
      is distinct from (p.sex, p.birth_year, p.birth_month, p.residence_dpt, p.rights_date)
union all
select p.patient_id, 'death', least(o.death_date, p.death_date)
from ben_before o
join claims.patient p on p.patient_id = o.patient_id
where o.death_date is distinct from p.death_date
union all select patient_id, 'death', death_date from death_from_stay
union all
select null, 'drug', '-infinity'::date
where exists (
    select 1 from drug_before o join ref.drug d on d.cip13 = o.cip13
    where (o.atc7, o.pack_type, o.units_per_pack, o.dosage, o.dosage_unit)
          is distinct from (d.atc7, d.pack_type, d.units_per_pack, d.dosage, d.dosage_unit));
