"""The engine and its models, free of Kafka.

Importing the package pins numpy's and OpenBLAS's CPU dispatch first
(``models/numerics.py``): the same log gives the same scores on every x86-64 machine.
"""

from models import numerics as numerics
