"""The human side of the loop: rating runs, the labeling queue, reviewing label changes in pull requests,
and the GitHub workflow that posts those reviews."""
