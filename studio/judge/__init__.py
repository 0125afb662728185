"""Judges of generated replies from outside the task: a finished classifier run of the studio (reinforcement
learning's classifier reward), and a Python file of the person's reward, where the operator allows code.

A person trains a text classifier in the studio (polite or not, on topic or not), then names that run and one of
its labels in an RL run; the judge's probability of the label scores each reply. Before the RL run exists each
judge is checked (the person may see the run, it completed, it reads one label per text, it knows the label; the
server allows code, the file defines the function) and recorded in the new run's folder (RunFolder.judge, the
code's source included, so the run keeps what it was scored with); in the worker the judges load beside the model
and the task puts their rewards in place.

Imports: base, data, tasks, serve.
"""
