"""Helpers the tests share: plain functions, classes and constants, imported by test modules.

Fixtures live in ``conftest.py`` files (``tests/conftest.py`` for shared ones, ``tests/<area>/conftest.py``
for one area's); they may use these helpers. No test module imports another test module or a conftest
(``tests/system/test_layout.py`` checks it).
"""
