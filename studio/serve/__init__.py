"""Serve: finished runs put to use.

    inference    a finished run loaded (base + adapter, or the whole model), cached; predict, stream a chat
    playground   Playground and Chat: what trying a run asks of its task
    label_file   a whole file labelled by a classifier run, written as CSV a spreadsheet cannot run

Imports: base, models, methods, data, tasks.
"""
