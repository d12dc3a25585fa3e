{#- The net dispensings of int_drug_dispensings with their DDDs (fct_drug_dispensing_doses; null
    when the pack has no DDD count): the input of the dose views read per patient x drug
    (fct_drug_episode_doses, fct_drug_cumulative_exposure). -#}
{% macro dispensings_with_ddd() -%}
    select
        dispensings.patient_id,
        dispensings.drug_code,
        dispensings.dispensing_date,
        doses.ddd_dispensed
    from {{ ref('int_drug_dispensings') }} as dispensings
    left join {{ ref('fct_drug_dispensing_doses') }} as doses
        on dispensings.dispensing_id = doses.dispensing_id
{%- endmacro %}
