"""Developer tooling: the offline ENA mirror, the demo study, synthetic studies for scale.

Never imported by production code paths (the workflow, the catalogue, the web site).
"""
