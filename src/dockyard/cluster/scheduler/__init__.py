"""The scheduler: filters (liveness, availability, constraints) then spread by count."""
