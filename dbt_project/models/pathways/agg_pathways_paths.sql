{{ config(materialized='table', schema='pathways', tags=['pathways']) }}
{#- Treatment paths (fct_pathways_treatment_lines' regimens joined by ' > ' in line order) and
    the patients on each, per path filter. -#}

with lines as (
    select * from {{ ref('fct_pathways_treatment_lines') }}
),

patient_paths as (
    select
        path_filter,
        patient_id,
        {{ ordered_listagg('regimen', "' > '", 'line_number') }} as path,
        count(*) as length
    from lines
    group by path_filter, patient_id
),

final as (
    select path_filter, path, count(*) as patients, max(length) as length
    from patient_paths
    group by path_filter, path
)

select * from final
