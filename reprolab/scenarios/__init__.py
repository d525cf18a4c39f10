"""Scenarios: YAML loading with lines, the model (frozen dataclasses), read rules, validation,
rendering into build contexts, scaffolding, and turning selectors into targets. Pure: no engine.

May import: common, versions."""
