"""Evals: judges, scoring and judge alignment with humans."""
