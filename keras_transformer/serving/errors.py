"""The error a request gets: an HTTP status and a message for the client."""


class RequestError(ValueError):
    """A request the server refuses, answered with `{"error": message}`.

    Args:
        message: What was wrong, phrased for the client.
        status: The HTTP status, 4xx (400 unless the problem is a missing
            model, 404, or an oversized body, 413, ...).
    """

    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status
