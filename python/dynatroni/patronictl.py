"""``patronictl-dynamodb`` / ``python -m dynatroni.patronictl``: patronictl with the DynamoDB DCS available."""
from .patroni_loader import install


def main() -> None:
    install()
    from patroni.ctl import ctl
    ctl(prog_name='patronictl')


if __name__ == '__main__':
    main()
