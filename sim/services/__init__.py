"""Services: what happens to a holder at each kind of service point.

Each module holds one service family's lifecycle as small callback steps. A
service's ``arrive(txn)`` is called by the arrival feed; it must end every
transaction through the recorder exactly once.
"""
