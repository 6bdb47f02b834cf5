"""The domain: sites, devices, links and the topology they form.

Loading inventories from CSV folders or YAML files, validating them with errors that name
file and line, computing paths and downstream sets, and generating realistic national
inventories from Thailand's administrative divisions.
"""
