"""The group area: context view, starting a group, lifecycle and timeline (blueprint `group` in `views`).

The service (`plugin.group.service`) is what every area's views call to load the group and run an action.
"""
