"""The model workshop: turn a general LLM into a domain model.

Stages available so far: data preparation (:mod:`qiao.workshop.data`).
"""
