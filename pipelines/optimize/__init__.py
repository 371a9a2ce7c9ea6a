"""The optimization engine: idle and rightsizing findings, commitments and the instance mix.

Engine-independent maths shared by the streaming job and ``spendstream recommend``.
"""
