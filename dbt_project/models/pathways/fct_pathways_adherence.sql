{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#-
  Adherence per patient x chronic drug class (classes with role 'adherence' in
  int_pathways__drug_classes), over a fixed window of var pathways_pdc_window_days (default 365)
  days from the first dispensing of the class, cut at death and at the end of the data.

  PDC with carry-over: per molecule (ATC7), fills in date order; a fill bought while earlier
  supply remains starts when that supply ends (early refills are carried forward):
  supply_end_i = max(date_i, supply_end_{i-1}) + days_i, computed in closed form as
  cum_days_i + max_{j <= i}(date_j - cum_days_{j-1}). A day is covered when any molecule of the
  class covers it (union of the supplies, so two drugs taken together are not counted as
  stockpiling); days covered are counted inside the window only. PDC = days covered / window
  days (<= 1), adherent = PDC >= var
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
        dispensings.atc7,
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
        class_fills.patient_id,
        class_fills.drug_class,
        class_fills.atc7,
        class_fills.dispensing_id,
        class_fills.dispensing_date,
        class_fills.days_covered,
        windows_cut.window_start,
        windows_cut.window_end,
        sum(class_fills.days_covered) over fill_order as cum_days
    from class_fills
    inner join windows_cut
        on class_fills.patient_id = windows_cut.patient_id
        and class_fills.drug_class = windows_cut.drug_class
    where class_fills.dispensing_date < windows_cut.window_end
    window fill_order as (
        partition by class_fills.patient_id, class_fills.drug_class, class_fills.atc7
        order by class_fills.dispensing_date, class_fills.dispensing_id
        rows between unbounded preceding and current row
    )
),

supplies as (
    select
        *,
        max(dispensing_date - (cum_days - days_covered)::int) over (
            partition by patient_id, drug_class, atc7
            order by dispensing_date, dispensing_id
            rows between unbounded preceding and current row
        ) + cum_days::int as supply_end
    from fills_in_window
),

supplies_in_window as (
    select
        patient_id,
        drug_class,
        greatest(supply_end - days_covered, window_start) as covered_from,
        least(supply_end, window_end) as covered_to
    from supplies
    where least(supply_end, window_end) > greatest(supply_end - days_covered, window_start)
),

supplies_ordered as (
    select
        *,
        max(covered_to) over (
            partition by patient_id, drug_class
            order by covered_from, covered_to
            rows between unbounded preceding and 1 preceding
        ) as previous_to
    from supplies_in_window
),

supplies_islands as (
    select
        *,
        sum(case when previous_to is null or covered_from > previous_to then 1 else 0 end) over (
            partition by patient_id, drug_class
            order by covered_from, covered_to
            rows between unbounded preceding and current row
        ) as island
    from supplies_ordered
),

covered as (
    select patient_id, drug_class, sum(island_days)::int as days_covered
    from (
        select patient_id, drug_class, max(covered_to) - min(covered_from) as island_days
        from supplies_islands
        group by patient_id, drug_class, island
    ) as islands
    group by patient_id, drug_class
),

supplied as (
    select
        patient_id,
        drug_class,
        window_start,
        window_end,
        count(*)::int as fills,
        sum(days_covered)::int as days_supplied
    from fills_in_window
    group by patient_id, drug_class, window_start, window_end
),

final as (
    select
        supplied.patient_id,
        supplied.drug_class,
        supplied.window_start,
        supplied.window_end,
        ({{ days_between('supplied.window_end', 'supplied.window_start') }})::int as window_days,
        ({{ days_between('supplied.window_end', 'supplied.window_start') }}) = {{ window_days }} as full_window,
        supplied.fills,
        supplied.days_supplied,
        coalesce(covered.days_covered, 0) as days_covered,
        round(coalesce(covered.days_covered, 0)::{{ numeric_type() }} / ({{ days_between('supplied.window_end', 'supplied.window_start') }}), 4) as pdc,
        round(supplied.days_supplied::{{ numeric_type() }} / ({{ days_between('supplied.window_end', 'supplied.window_start') }}), 4) as mpr,
        coalesce(covered.days_covered, 0)::{{ numeric_type() }} / ({{ days_between('supplied.window_end', 'supplied.window_start') }})
            >= {{ threshold }} as adherent
    from supplied
    left join covered
        on supplied.patient_id = covered.patient_id
        and supplied.drug_class = covered.drug_class
    where supplied.window_end > supplied.window_start
)

select * from final
