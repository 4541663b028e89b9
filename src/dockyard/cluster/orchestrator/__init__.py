"""The orchestrator: from services and the tasks that exist, what tasks should exist
(reconcile, no I/O), and the elected loop that applies it with the scheduler (leader)."""
