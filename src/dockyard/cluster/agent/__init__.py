"""The agent every node runs: it watches the tasks assigned to its node and runs them as
containers through the narrow `TaskContainers` protocol it declares (protocol), built
from the task's spec (containerspec), reporting observed states back (agent)."""
