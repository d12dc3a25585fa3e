{{ config(materialized='view', tags=['study'], refresh_vars=['days_covered_mode', 'fixed_days_gc', 'fixed_days_ngc', 'episode_level'],
          refresh_conditional_inputs={'int_drug_pack_doses': ['days_covered_mode', 'ddd']}) }}
{#- Dispensings with their ATC code, drug code at the episode level and days covered: fixed days
    per pack, the pack's units over the daily units (units), or its defined daily doses (ddd: one
    day per DDD, fixed days for a pack without DDDs). In the units and ddd modes a dispensing
    covers at most max_days_covered() days (10 years): a referential error cannot overflow. -#}
{%- set mode = days_covered_mode() | trim %}
-- depends_on: {{ ref('int_drug_pack_doses') }} (read in ddd mode only: see refresh_conditional_inputs)

with dispensings as (
    select * from {{ ref('stg_claims__dispensings') }}
),

drugs as (
    select * from {{ ref('stg_ref__drugs') }}
    where atc7 is not null
),

daily_units as (
    select * from {{ ref('drug_daily_units') }}
),

drug_days_per_pack as (
    select
        drugs.cip13,
        drugs.atc7,
        {%- if mode == 'units' %}
        coalesce(
            drugs.units_per_pack::{{ numeric_type() }} / coalesce(
                (
                    select daily_units.daily_units
                    from daily_units
                    where drugs.atc7 like daily_units.atc_prefix || '%'
                    order by length(daily_units.atc_prefix) desc
                    limit 1
                ),
                1
            ),
            case when drugs.pack_type = 'GC' then {{ var_int('fixed_days_gc', 90, 1) }} else {{ var_int('fixed_days_ngc', 30, 1) }} end
        ) as days_per_pack
        {%- elif mode == 'ddd' %}
        pack_doses.ddd_base_per_pack,
        pack_doses.ddd,
        case when drugs.pack_type = 'GC' then {{ var_int('fixed_days_gc', 90, 1) }} else {{ var_int('fixed_days_ngc', 30, 1) }} end
            as days_per_pack
        {%- else %}
        case
            when drugs.pack_type = 'GC' then {{ var_int('fixed_days_gc', 90, 1) }}
            else {{ var_int('fixed_days_ngc', 30, 1) }}
        end as days_per_pack
        {%- endif %}
    from drugs
    {%- if mode == 'ddd' %}
    left join {{ ref('int_drug_pack_doses') }} as pack_doses
        on drugs.cip13 = pack_doses.cip13
        and pack_doses.ddd_status = 'ok'
    {%- endif %}
),

final as (
    select
        dispensings.dispensing_id,
        dispensings.patient_id,
        dispensings.dispensing_date,
        dispensings.cip13,
        drug_days_per_pack.atc7,
        left(drug_days_per_pack.atc7, {{ episode_code_length() }}) as drug_code,
        dispensings.packs,
        {%- if mode == 'ddd' %}
        case
            when drug_days_per_pack.ddd_base_per_pack is null then dispensings.packs * drug_days_per_pack.days_per_pack
            else least({{ max_days_covered() }}, greatest(1, ceil({{ decimal_ratio('dispensings.packs * drug_days_per_pack.ddd_base_per_pack',
                                                   'drug_days_per_pack.ddd', 6) }})))
        end::int as days_covered
        {%- elif mode == 'units' %}
        least({{ max_days_covered() }}, greatest(1, ceil(dispensings.packs * drug_days_per_pack.days_per_pack)))::int
            as days_covered
        {%- else %}
        dispensings.packs * drug_days_per_pack.days_per_pack as days_covered
        {%- endif %}
    from dispensings
    inner join drug_days_per_pack
        on dispensings.cip13 = drug_days_per_pack.cip13
    where dispensings.packs > 0
)

select * from final
