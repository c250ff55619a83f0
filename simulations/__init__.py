"""What-if simulation: replay real or synthetic demand on today's or a proposed network.

Will hold the discrete-event engine, workload generators and trace importers, and scenario
comparison; it calls the same solvers as the scheduler on changed inputs.
"""
