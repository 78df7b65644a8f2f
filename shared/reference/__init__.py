"""Reference data (agents, teams, departments, help topics, SLA plans, schedules): the service
behind the admin API, its schemas, and the declarative YAML loader."""
