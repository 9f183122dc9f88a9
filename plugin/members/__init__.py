"""The members area: nominating, the introductory interviews, joining and leaving, and the group's history."""
