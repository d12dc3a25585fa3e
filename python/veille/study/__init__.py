"""Drug–outcome studies: study files, registry rows, estimators, results and reports."""
