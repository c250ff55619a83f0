"""The scheduler: jobs, queue, persistence, Kubernetes submission, the control loop, the HTTP API
and the ``suanwang`` command line."""
