"""The browser login journey: identifier-first, password, organization selection, logout."""
