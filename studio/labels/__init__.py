"""Labels: better labels for data with one label per row (a task with the OneLabelPerRow capability).

    label_review       the rows whose label is probably wrong (cleanlab on cross-validated probabilities), decided
                       per row and saved as a reviewed copy
    query_strategies   which unlabelled rows are worth labelling next (uncertainty, diversity, a cold start)
    labelling          labelling projects: a pool, rounds of suggestions, labels saved as given, retrains, the
                       learning curve

Imports: base, models, data, tasks, serve, config, runs.
"""
