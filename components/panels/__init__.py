"""Panels of the Data tab that belong to a feature: augmentation, distillation, label review."""
