"""Goals: the patient's own goals, their steps, notes and progress scores with a chart over time."""
