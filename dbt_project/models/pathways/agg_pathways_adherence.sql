{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- Adherence per drug class over full windows (fct_pathways_adherence): patients, mean and
    median PDC, adherent patients, mean MPR; veille.pathways.summaries.adherence adds the
    intervals. -#}

with adherence as (
    select * from {{ ref('fct_pathways_adherence') }}
    where full_window
),

final as (
    select
        drug_class,
        count(*) as patients,
        avg(cast(pdc as {{ double_type() }})) as mean_pdc,
        cast(percentile_cont(0.5) within group (order by pdc) as {{ double_type() }}) as median_pdc,
        count(case when adherent then 1 end) as adherent,
        avg(cast(mpr as {{ double_type() }})) as mean_mpr
    from adherence
    group by drug_class
)

select * from final
