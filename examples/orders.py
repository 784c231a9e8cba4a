"""orders.py - a small Python service for `make demo-top`: run under
`python -m usdt`, its functions show in `usdt top` through CPython's runtime
provider (one row per function), and handle() also has @fbt probes of its
own (orders:handle__entry/__return, timed as a pair).

    scripts/with-python python3 bash -c 'exec "$PY" -m usdt examples/orders.py'
    usdt top $(pgrep -n -f examples/orders.py)
"""
import os
import random
import time

from usdt import fbt


def lookup(item):
    time.sleep(random.uniform(0.0005, 0.0015))  # a cache: ~1 ms
    return len(item)


def charge(cents):
    time.sleep(random.uniform(0.008, 0.012))  # a payment call: ~10 ms
    return cents


@fbt(provider="orders")
def handle(n):
    item = random.choice(("teapot", "kettle", "mug"))
    lookup(item)
    if n % 10 == 0:
        charge(100 * n)


def main():
    print("orders: pid %d" % os.getpid(), flush=True)
    n = 0
    while True:
        n += 1
        handle(n)
        time.sleep(0.005)


if __name__ == "__main__":
    main()
