"""The policy lab: replay stored assessments under another policy (and, with the verdict engineer's simulate,
the policy over the answer space). It joins the engine (assessing) and storage (reading, keeping runs); the CLI
(`asesor policy replay`) and the API (`/v1/policy/…`) are thin adapters over it."""
