"""Where votes and unanswered questions are kept: one interface (`base.FeedbackStore`) and one
module per backend (SQLite for one machine, PostgreSQL for several replicas); `rolebot.feedback`
picks one from a path or a URL."""
