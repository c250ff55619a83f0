"""What-if simulation: replay real or synthetic demand on today's or a proposed network.

Holds the synthetic workload and topology generators (:mod:`simulations.synthetic`); the
discrete-event engine, trace importers and scenario comparison build on them. It calls the same
solvers as the scheduler on changed inputs.
"""
