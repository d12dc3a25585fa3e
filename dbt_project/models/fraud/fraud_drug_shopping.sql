{{ config(materialized='view', schema='fraud', tags=['fraud']) }}
{#- Every drug ranked by the share of its dispensed units obtained by doctor shopping
    (Pradel 2004; Soeiro 2023), over all swept months. -#}

with monthly as (
    select * from {{ ref('fraud_drug_shopping_monthly') }}
),

per_drug as (
    select
        drug_code,
        min(month) as first_month,
        max(month) as last_month,
        sum(total_units) as total_units,
        sum(shopping_units) as shopping_units
    from monthly
    group by drug_code
),

final as (
    select
        rank() over (order by shopping_units / nullif(total_units, 0) desc nulls last, drug_code) as drug_rank,
        drug_code,
        first_month,
        last_month,
        total_units,
        shopping_units,
        {{ rounded_ratio('shopping_units', 'nullif(total_units, 0)', 5) }} as shopping_share
    from per_drug
)

select * from final
