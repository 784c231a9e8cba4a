"""One exception for every error a user meets: main() prints its message as
one line and exits non-zero."""


class ViewError(Exception):
    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status
