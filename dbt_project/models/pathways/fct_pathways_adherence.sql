{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Adherence per patient x chronic drug class (classes with role 'adherence' in
  int_pathways__drug_classes), over a fixed window of var pathways_pdc_window_days (default 365)
  days from the first dispensing of the class, cut at death and at the end of the data.

  PDC with carry-over: fills are taken in date order across all molecules of the class; a fill
  bought while earlier supply remains starts when that supply ends (early refills are carried
  forward): supply_end_i = max(date_i, supply_end_{i-1}) + days_i, computed in closed form as
  cum_days_i + max_{j <= i}(date_j - cum_days_{j-1}). Days covered = the part of the supplies
  inside the window; PDC = days covered / window days (<= 1), adherent = PDC >= var
  pathways_pdc_threshold (default 0.8).
  MPR = days supplied by fills dispensed in the window / window days (not capped).
-#}
{%- set window_days = var('pathways_pdc_window_days', 365) %}
{%- set threshold = var('pathways_pdc_threshold', 0.8) %}

with classes as (
    select * from {{ ref('int_pathways__drug_classes') }}
    where class_role = 'adherence'
),

dispensings as (
    select * from {{ ref('int_drug_dispensings') }}
),

data_span as (
    select * from {{ ref('int_data_span') }}
),

patients as (
    select patient_id, death_date from {{ source('claims', 'patient') }}
),

class_fills as (
    select distinct
        dispensings.patient_id,
        classes.drug_class,
        dispensings.dispensing_id,
        dispensings.dispensing_date,
        dispensings.days_covered
    from dispensings
    inner join classes
        on dispensings.atc7 like classes.atc_prefix || '%'
),

windows as (
    select
        class_fills.patient_id,
        class_fills.drug_class,
        min(class_fills.dispensing_date) as window_start
    from class_fills
    group by class_fills.patient_id, class_fills.drug_class
),

windows_cut as (
    select
        windows.patient_id,
        windows.drug_class,
        windows.window_start,
        least(
            windows.window_start + {{ window_days }},
            coalesce(patients.death_date + 1, windows.window_start + {{ window_days }}),
            data_span.data_end + 1
        ) as window_end
    from windows
    inner join patients
        on windows.patient_id = patients.patient_id
    cross join data_span
),

fills_in_window as (
    select
        class_fills.*,
        windows_cut.window_start,
        windows_cut.window_end,
        sum(class_fills.days_covered) over fill_order as cum_days
    from class_fills
    inner join windows_cut
        on class_fills.patient_id = windows_cut.patient_id
        and class_fills.drug_class = windows_cut.drug_class
    where class_fills.dispensing_date < windows_cut.window_end
    window fill_order as (
        partition by class_fills.patient_id, class_fills.drug_class
        order by class_fills.dispensing_date, class_fills.dispensing_id
        rows between unbounded preceding and current row
    )
),

supplies as (
    select
        *,
        (max(dispensing_date - (cum_days - days_covered)::int) over (
            partition by patient_id, drug_class
            order by dispensing_date, dispensing_id
            rows between unbounded preceding and current row
        ) + cum_days::int) as supply_end
    from fills_in_window
),

final as (
    select
        patient_id,
        drug_class,
        window_start,
        window_end,
        (window_end - window_start)::int as window_days,
        (window_end - window_start) = {{ window_days }} as full_window,
        count(*)::int as fills,
        sum(days_covered)::int as days_supplied,
        sum(greatest(0, least(supply_end, window_end) - greatest(supply_end - days_covered, window_start)))::int
            as days_covered,
        round(
            sum(greatest(0, least(supply_end, window_end) - greatest(supply_end - days_covered, window_start)))::numeric
            / (window_end - window_start), 4
        ) as pdc,
        round(sum(days_covered)::numeric / (window_end - window_start), 4) as mpr,
        sum(greatest(0, least(supply_end, window_end) - greatest(supply_end - days_covered, window_start)))::numeric
            / (window_end - window_start) >= {{ threshold }} as adherent
    from supplies
    group by patient_id, drug_class, window_start, window_end
)

select * from final
