"""SNMP profiles shipped with pubnet (YAML data files; see docs/profiles.md).

A package only so that the YAML files are installed with pubnet.
"""
