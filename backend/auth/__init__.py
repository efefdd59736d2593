"""Access: API tokens, the route → scope policy, browser sessions with CSRF, security headers."""
