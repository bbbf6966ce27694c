"""The static site (``sop site build OUT/``): enrolment, signing pages and the dashboard.

``build.py`` gathers what the pages show from the repository (requests, records, the base
branch's keyring and calendar) and writes them; ``layout.py`` is the page shell every page
shares (escaping, the embedded data, style, navigation); ``signing.py``, ``enrol.py`` and
``dashboard.py`` are one page kind each. Every request value is escaped with
``reports.escape.h`` or embedded as JSON that cannot close its ``<script>`` element.
"""
