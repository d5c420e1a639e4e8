"""What the numbers mean: roofline, guidelines, comparisons, sampling, kernel statistics, the zoo, the quiz."""
