"""Views: data and runs shaped for people, shared by the pages and the command line.

    data_check   a data file looked at before training, exactly as a run will prepare it
    run_views    progress lines, run tables, comparisons, per-class tables, mistakes, sample generations
    plots        metrics -> plotly figures (pure functions)

Imports: base, models, data, tasks, config, training.
"""
