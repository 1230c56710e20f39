"""Patroni DCS plugin: ``class DynamoDB(AbstractDCS)``, a thin layer over the C++ core.

All lease, compare-and-set, expiry and watch-timing logic lives in C++ (``dynatroni._core.Dcs``,
``dcs/dcs.h``); this module only translates Patroni's AbstractDCS calls and objects. Works with
Patroni 4.1 (PyPI) and Patroni 3.0.2 (Debian); see docs/install.md for how Patroni loads it.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from patroni.dcs import AbstractDCS, Cluster, ClusterConfig, Failover, Leader, Member, SyncState, TimelineHistory

from . import _core, lease_log, metrics
from .errors import DynamoDBError, dcs_call
from .failure_log import FailureLimiter, LOGGER_NAME, emit, error_name, failure_line

try:  # Patroni >= 3.2
    from patroni.dcs import Status
except ImportError:  # pragma: no cover - Patroni 3.0.x
    Status = None  # type: ignore[assignment,misc]

logger = logging.getLogger(LOGGER_NAME)

# Keys Patroni copies into the section (never options of ours).
_PATRONI_KEYS = ('namespace', 'name', 'scope', 'loop_wait', 'patronictl', 'ttl', 'retry_timeout')
# Patroni 3.0.x also merges the whole `citus:` section (group, database) into it.
_CITUS_KEYS = ('group', 'database')


_NOT_WRITTEN = 'not written; Patroni retries in its next cycle'
_POLL_AGAIN = 'the watch polls again within 1 s'
__all__ = ['DynamoDB', 'DynamoDBError']


# The table key a failed call's log line names (errors.dcs_call's `key`), from the decorated method's arguments.
def _at_leader(dcs: 'DynamoDB', *_: Any, **__: Any) -> str:
    return dcs._leader_key


def _at_arg(dcs: 'DynamoDB', key: str, *_: Any, **__: Any) -> str:
    return dcs._key(key)


def _at(name: str) -> Callable[..., str]:
    return lambda dcs, *_, **__: dcs._key(getattr(dcs, name))


def _section_strings(config: Dict[str, Any], ignore: Tuple[str, ...] = _PATRONI_KEYS) -> Dict[str, str]:
    out = {}
    for k, v in config.items():
        if k in ignore or v is None:
            continue
        if isinstance(v, (dict, list, tuple, set)):  # every setting of ours is one value: never drop it silently
            raise ValueError(f'dynamodb.{str(k)[:40]}: expected a single value, got a {type(v).__name__}; '
                             f'write it as one string or number')
        out[k] = str(v).lower() if isinstance(v, bool) else str(v)
    return out


class DynamoDB(AbstractDCS):
    """Patroni's DCS on one DynamoDB table: one partition per cluster, one item per key."""

    def __init__(self, config: Dict[str, Any], mpp: Any = None) -> None:
        if mpp is None:
            super().__init__(config)  # type: ignore[call-arg]  # Patroni 3.0.x
        else:
            super().__init__(config, mpp)
        self._partition = _core.partition_for(config.get('namespace', '/service/'), config['scope'])
        try:
            ignore = _PATRONI_KEYS + (_CITUS_KEYS if mpp is None else ())
            self._core = _core.Dcs(_section_strings(config, ignore), self._partition, config['name'])
        except ValueError as e:
            logger.error('dynamodb: %s', e)
            raise SystemExit(f'dynamodb: {e}') from None
        # With $DYNATRONI_LEASE_LOG set, every lease call also appends a belief record (lease_log.py).
        self._core = lease_log.wrap(self._core, config['name'])
        if self._core.start_problem:  # e.g. the table does not exist (yet): every call will fail until it does
            logger.error('dynamodb: %s', self._core.start_problem)
        self._do_not_watch = False
        self._failures = FailureLimiter()
        self._credential_error = ''
        self._credential_refusals = 0
        self._set_timing(config.get('ttl', 30), config.get('loop_wait', 10), config.get('retry_timeout', 10))
        logger.info('dynamodb: table %s in %s via %s, partition %r, credentials from %s, ttl %.1fs loop_wait %.1fs '
                    'retry_timeout %.1fs%s', self._core.table_name, self._core.region, self._core.endpoint,
                    self._partition, self._core.credential_source, *self._core.timing()[:3],
                    ' (from failover_time)' if self._core.failover_time else '')
        self._last_load: Optional[float] = None  # time.monotonic() of the last successful cluster load
        self._leader_term_seen = 0  # the term in the leader item of the last cluster load
        self._renewals = {'renewed': 0, 'refused': 0, 'failed': 0}  # lease renewals by result
        if self._core.metrics_listen and not self._ctl:  # patronictl makes this object too: never serve there
            metrics.serve(self._core.metrics_listen, self.render_metrics)

    def render_metrics(self) -> str:
        """This node's Prometheus metrics (python/dynatroni/metrics.py, docs/operations.md "Metrics")."""
        return metrics.render(metrics.families(self._core.metrics(), self._core.lease(self._leader_key),
                                               self._leader_term_seen, metrics.monotonic_age(self._last_load),
                                               dict(self._renewals)))

    # ---- timing -------------------------------------------------------------------------------
    # The C++ core owns ttl, loop_wait and retry_timeout (Dcs::timing(), with the safety margin and every
    # deadline derived from them): Patroni's setters hand its values to the core, its getters read them back,
    # and no copy is kept here. With failover_time set, the core took the dial's values when it was made
    # (python/src/capi.cc) and Patroni's own values are ignored.
    def _set_timing(self, ttl: Optional[float] = None, loop_wait: Optional[float] = None,
                    retry_timeout: Optional[float] = None) -> bool:
        """Hands Patroni's new values (None: unchanged) to the core, unless failover_time fixes them; whether the
        ttl changed."""
        if self._core.failover_time:
            return False
        old = self._core.timing()[:3]
        new = tuple(o if v is None else float(v) for v, o in zip((ttl, loop_wait, retry_timeout), old))
        self._core.set_timing(*new)
        return new[0] != old[0]

    def reload_config(self, config: Any) -> None:
        if self._set_timing(config['ttl'], config['loop_wait'], config['retry_timeout']):
            self._do_not_watch = True

    def _set_loop_wait(self, loop_wait: int) -> None:
        # AbstractDCS.__init__ calls this before the core exists; __init__ then hands Patroni's timing to it.
        if getattr(self, '_core', None) is not None:
            self._set_timing(loop_wait=loop_wait)

    @property
    def loop_wait(self) -> int:
        loop_wait = self._core.timing()[1]
        return int(loop_wait) if loop_wait.is_integer() else loop_wait  # type: ignore[return-value]

    def set_ttl(self, ttl: int) -> Optional[bool]:
        if not self._set_timing(ttl=ttl):
            return False
        self._do_not_watch = True
        return True

    @property
    def ttl(self) -> int:
        return self._core.timing()[0]

    def set_retry_timeout(self, retry_timeout: int) -> None:
        self._set_timing(retry_timeout=retry_timeout)

    # ---- key helpers ----------------------------------------------------------------------------
    def _key(self, path: str) -> str:
        """The table sort key for a Patroni path (client_path(...) or a key name)."""
        full = self.client_path(path) if not path.startswith('/') else path
        return full[len(self._base_path) + 1:]

    # ---- failures -------------------------------------------------------------------------------
    def _report(self, e: Exception, what: str, key: str, next_step: str, level: int = logging.WARNING) -> None:
        """Logs failure `e` of `what` on `key` (failure_log.py: one line, rate-limited per kind)."""
        line = failure_line(e, what, key, self._partition, next_step)
        entry = self._failures.record(f'{what}: {error_name(e)}', line, level)
        if entry:
            emit([entry])

    def _primary_next_step(self, not_done: str) -> Tuple[int, str]:
        """What Patroni does after a failed cluster load or lease renewal of this node, and the log level."""
        lease = self._core.lease(self._leader_key)
        cluster = self._cluster
        leader = cluster is not None and cluster.leader is not None and cluster.leader.name == self._name
        if not lease['held'] and not leader:
            return logging.WARNING, f'{not_done}; Patroni retries in its next cycle'
        # The core's holder bound (lease['remaining'] from now), as a wall-clock time for the log line only.
        until = ('the holder bound has passed' if not lease['held'] else 'still holding until ' + time.strftime(
            '%H:%M:%S UTC', time.gmtime(time.time() + lease['remaining'])))
        config = cluster.config.data if cluster is not None and cluster.config is not None else {}
        if config.get('failsafe_mode'):
            return logging.WARNING, (f'{not_done}; Patroni keeps this primary only if every member answers its '
                                     f'REST API (failsafe_mode); {until}')
        return logging.ERROR, f'{not_done}; Patroni demotes this primary now; {until}'

    def _report_failure(self, e: Exception, what: str, key: str, next_step: str, primary: bool) -> None:
        """errors.dcs_call's report of a failed store call: `next_step` says what was not done and what Patroni
        does next; `primary` marks a failure that makes a primary demote (_primary_next_step)."""
        level, text = self._primary_next_step(next_step) if primary else (logging.WARNING, next_step)
        self._report(e, what, key, text, level)

    def _check_credentials(self) -> None:
        """Logs a failed background refresh of temporary credentials (silent in the C++ cache) once, and
        its end; and credentials AWS refused (ExpiredTokenException ...), which the client replaced."""
        self._check_refused_credentials()
        err = self._core.credential_refresh_error
        if err == self._credential_error:
            return
        self._credential_error = err
        if err:
            entry = self._failures.record('credential refresh', f'credential refresh failed: {err}; the cached '
                                          'credentials are used until they expire', logging.WARNING)
            if entry:
                emit([entry])
        else:
            logger.info('dynamodb: credential refresh succeeded again')

    def _check_refused_credentials(self) -> None:
        """Logs that AWS refused the credentials in use (ExpiredTokenException, UnrecognizedClientException) and the
        client fetched new ones (dynamodb/client.cc), rate-limited like a failure."""
        count, last = self._core.credential_refusals
        if count == self._credential_refusals:
            return
        times = count - self._credential_refusals
        self._credential_refusals = count
        more = '' if times == 1 else f'; {times} refusals since the last line'
        entry = self._failures.record('credentials refused by AWS', f'AWS refused the credentials in use ({last}{more}): '
                                      'dropped them and fetched new ones; the refused request was sent once more '
                                      'if they differ', logging.WARNING)
        if entry:
            emit([entry])

    # ---- reading the cluster -------------------------------------------------------------------
    def _build_cluster(self, items: Dict[str, Dict[str, Any]]) -> Cluster:
        members: List[Member] = []
        for key, it in sorted(items.items()):
            if not key.startswith(self._MEMBERS):
                continue
            name = key[len(self._MEMBERS):]
            try:
                data = json.loads(it['value'])
                if not isinstance(data, dict):
                    raise ValueError('not a JSON object')
            except ValueError as e:
                logger.warning('dynamodb: skipping member %r: its data is not valid JSON (%s)', name, e)
                continue
            members.append(Member(it['version'], name, it['session'], data))

        def get(key: str) -> Optional[Dict[str, Any]]:
            return items.get(key)

        it = get(self._INITIALIZE)
        initialize = it['value'] if it else None
        it = get(self._CONFIG)
        config = ClusterConfig.from_node(it['version'], it['value'], it['version']) if it else None
        it = get(self._LEADER)
        leader = None
        if it:
            member = next((m for m in members if m.name == it['value']), None) or Member(-1, it['value'], None, {})
            leader = Leader(it['version'], it['session'], member)
        it = get(self._FAILOVER)
        failover = Failover.from_node(it['version'], it['value']) if it else None
        it = get(self._SYNC)
        sync = SyncState.from_node(it['version'], it['value']) if it else SyncState.empty(None)
        it = get(self._HISTORY)
        history = TimelineHistory.from_node(it['version'], it['value']) if it else None
        it = get(self._FAILSAFE)
        failsafe = None
        if it:
            try:
                failsafe = json.loads(it['value'])
            except ValueError:
                logger.warning('dynamodb: ignoring failsafe: not valid JSON')
        status_value = (get(self._STATUS) or get(self._LEADER_OPTIME) or {}).get('value')
        fields: Dict[str, Any] = dict(initialize=initialize, config=config, leader=leader, members=members,
                                      failover=failover, sync=sync, history=history, failsafe=failsafe)
        if 'status' in Cluster._fields:
            fields['status'] = Status.from_node(status_value)
        else:  # Patroni 3.0.x
            last_lsn, slots = 0, None
            try:
                parsed = json.loads(status_value) if status_value else {}
                if isinstance(parsed, dict):
                    last_lsn, slots = int(parsed.get('optime', 0)), parsed.get('slots')
                else:
                    last_lsn = int(parsed)
            except (TypeError, ValueError):
                pass
            fields['last_lsn'], fields['slots'] = last_lsn, slots
        if 'workers' in Cluster._fields:
            fields['workers'] = {}
        return Cluster(*[fields.get(f) for f in Cluster._fields])

    def _export_stats(self) -> None:
        """With $DYNATRONI_STATS_FILE set (the benchmarks set it), write the client's request counters there
        as JSON (atomically: a temporary file, then rename) after every cluster load. Off by default."""
        path = os.environ.get('DYNATRONI_STATS_FILE')
        if not path:
            return
        try:
            tmp = f'{path}.{os.getpid()}.tmp'
            with open(tmp, 'w') as f:
                json.dump(dict(self._core.stats(), pid=os.getpid(), time=time.time()), f)
            os.replace(tmp, path)
        except OSError as e:
            logger.warning('dynamodb: cannot write the request counters to %s: %s', path, e)

    def _prefix(self, path: str) -> str:
        """The sort-key prefix a cluster load at `path` reads: '' for the whole partition, '<group>/' for one
        MPP group."""
        return self._key(path) if path.rstrip('/') != self._base_path else ''

    def _load(self, prefix: str) -> Dict[str, Any]:
        view = self._core.load_cluster(prefix)
        self._check_credentials()  # after a success only: a refresh that made the load fail is in its line
        self._last_load = time.monotonic()
        leader = self._leader_key
        self._leader_term_seen = next((int(it['term']) for it in view['items'] if it['key'] == leader),
                                      self._leader_term_seen)
        emit(self._failures.flush())
        self._export_stats()
        for w in view['warnings']:
            logger.warning('dynamodb: %s', w)
        for it in view['expired_leaders']:
            logger.info('dynamodb: leader %r (version %s, term %s) unchanged for %.1fs >= ttl: lease expired',
                        it['value'], it['version'], it['term'], it['age'])
        return view

    def _postgresql_cluster_loader(self, path: str) -> Cluster:
        prefix = self._prefix(path)
        view = self._load(prefix)
        return self._build_cluster({it['key'][len(prefix):]: it for it in view['items']})

    _cluster_loader = _postgresql_cluster_loader  # Patroni 3.0.x name

    def _mpp_cluster_loader(self, path: str) -> Dict[int, Cluster]:
        prefix = self._prefix(path)
        view = self._load(prefix)
        groups: Dict[int, Dict[str, Any]] = {}
        for it in view['items']:
            group, _, rest = it['key'][len(prefix):].partition('/')
            if group.isdigit() and rest:
                groups.setdefault(int(group), {})[rest] = it
        return {g: self._build_cluster(items) for g, items in groups.items()}

    _citus_cluster_loader = _mpp_cluster_loader  # Patroni 3.0.x name

    @dcs_call('cluster load', 'cluster not loaded', lambda dcs, path, *_: dcs._prefix(path) or '(all keys)',
              primary=True, unexpected='failed to load the cluster')
    def _load_cluster(self, path: str, loader: Any) -> Union[Cluster, Dict[int, Cluster]]:
        """Patroni (get_cluster): the Cluster at `path`, or the clusters by MPP group. Raises DCSError when
        DynamoDB cannot be reached (Patroni demotes a primary unless failsafe mode keeps it), and when building
        the Cluster failed otherwise (logged with its traceback)."""
        return loader(path)

    # ---- the leader lease ----------------------------------------------------------------------
    @property
    def _leader_key(self) -> str:
        return self._key(self.leader_path)

    @dcs_call('lease acquisition', 'not acquired; Patroni retries in its next cycle', _at_leader)
    def attempt_to_acquire_leader(self) -> bool:
        """Patroni: True when this node took the lease, False when another node holds it (or this node has not
        yet seen it unchanged for a full ttl). Raises DCSError when DynamoDB cannot be reached."""
        won = self._core.acquire_leader(self._leader_key)
        if won:
            logger.info('dynamodb: acquired the leader lease, term %s', self._core.lease(self._leader_key)['term'])
        else:
            logger.info('dynamodb: could not acquire the leader lease: another node holds it')
        return won

    def _update_leader(self, leader: Optional[Leader] = None) -> bool:
        """Patroni: renew this node's lease. True when renewed; False when refused, the lease is not ours any
        more (Patroni demotes). Raises DCSError when DynamoDB could not be asked (Patroni demotes unless failsafe
        mode keeps the primary)."""
        version = None
        if leader is None and self._cluster is not None:
            leader = self._cluster.leader
        if leader is not None:  # Patroni 3.0.x calls the field `index`, later versions `version`
            version = getattr(leader, 'version', getattr(leader, 'index', None))
        try:
            ok = self._renew_leader(version if isinstance(version, int) else None)
        except DynamoDBError:
            self._renewals['failed'] += 1
            raise
        self._renewals['renewed' if ok else 'refused'] += 1
        if not ok:
            # Patroni demotes on False: an ERROR, like every failure that makes it demote.
            logger.error('dynamodb: leader lease renewal refused: the lease is not ours any more')
        self._check_credentials()
        return ok

    @dcs_call('lease renewal', 'lease not renewed', _at_leader, primary=True)
    def _renew_leader(self, version: Optional[int]) -> bool:
        return self._core.renew_leader(self._leader_key, version)

    @dcs_call('lease take-over', 'not taken; Patroni retries in its next cycle', _at_leader, failed=False)
    def take_leader(self) -> bool:
        """Patroni (bootstrap): True when this node holds the lease now; False when another node does, or when
        DynamoDB cannot be reached (never raises)."""
        return self._core.take_leader(self._leader_key)

    @dcs_call('lease release', 'not released; the other nodes take over once they see it expire', _at_leader,
              failed=False)
    def _delete_leader(self, leader: Optional[Leader] = None) -> bool:
        """Patroni: release this node's lease. False when it is not ours, or DynamoDB cannot be reached (never
        raises). Conditioned on our name and the version we hold (else the one Patroni saw), so a late or
        repeated release never ends a later lease."""
        version = getattr(leader, 'version', getattr(leader, 'index', None)) if leader is not None else None
        return self._core.release_leader(self._leader_key,
                                         version if isinstance(version, int) and not isinstance(version, bool)
                                         else None)

    # ---- other keys: False when not done (a compare-and-set lost, or DynamoDB unreachable); never raise -------
    @staticmethod
    def _version(version: Any, index: Any) -> Optional[int]:
        v = version if version is not None else index
        return int(v) if v not in (None, '') else None

    @dcs_call('write', _NOT_WRITTEN, _at_arg, failed=False)
    def _set_value(self, key: str, value: str, version: Optional[int] = None) -> Union[Optional[int], bool]:
        """The new version of Patroni key `key` after writing `value` (only at `version`, when given); None when
        the compare-and-set failed; False when DynamoDB cannot be reached."""
        return self._core.set_value(self._key(key), value, version)

    def _set(self, key: str, value: str, version: Optional[int] = None) -> bool:
        return self._set_value(key, value, version) not in (None, False)

    @dcs_call('delete', _NOT_WRITTEN, _at_arg, failed=False)
    def _delete(self, key: str, version: Optional[int]) -> bool:
        return bool(self._core.delete_key(self._key(key), version))

    def set_failover_value(self, value: str, version: Any = None, index: Any = None) -> bool:
        return self._set(self._FAILOVER, value, self._version(version, index))

    def set_config_value(self, value: str, version: Any = None, index: Any = None) -> bool:
        return self._set(self._CONFIG, value, self._version(version, index))

    @dcs_call('member update', 'member item not refreshed; Patroni retries in its next cycle', _at('member_path'),
              failed=False, unexpected='touch_member failed')
    def touch_member(self, data: Dict[str, Any]) -> bool:
        """Patroni calls it from a `finally`: never raises anything (False when not written)."""
        return self._core.touch_member(self._key(self.member_path), json.dumps(data, separators=(',', ':')))

    @dcs_call('initialize', _NOT_WRITTEN, _at('_INITIALIZE'), failed=False)
    def initialize(self, create_new: bool = True, sysid: str = '') -> bool:
        """Patroni: True when written (with create_new, only by the one node that wins the bootstrap race)."""
        return bool(self._core.initialize(self._key(self._INITIALIZE), sysid, create_new))

    def cancel_initialization(self) -> bool:
        return self._delete(self._INITIALIZE, None)

    @dcs_call('cluster removal', 'not removed (or only in part); run it again', lambda *_, **__: '(all keys)',
              failed=False)
    def delete_cluster(self) -> bool:
        """patronictl remove: True when every item of the partition is gone."""
        self._core.delete_cluster()
        return True

    def set_history_value(self, value: str) -> bool:
        return self._set(self._HISTORY, value)

    def set_sync_state_value(self, value: str, version: Any = None, index: Any = None) -> Union[int, bool]:
        new = self._set_value(self._SYNC, value, self._version(version, index))
        return new if isinstance(new, int) and not isinstance(new, bool) else False

    def delete_sync_state(self, version: Any = None, index: Any = None) -> bool:
        return self._delete(self._SYNC, self._version(version, index))

    def _write_leader_optime(self, last_lsn: str) -> bool:
        return self._set(self._LEADER_OPTIME, last_lsn)

    def _write_status(self, value: str) -> bool:
        return self._set(self._STATUS, value)

    def _write_failsafe(self, value: str) -> bool:
        return self._set(self._FAILSAFE, value)

    # ---- watch -------------------------------------------------------------------------------------
    def watch(self, leader_version: Any, timeout: float) -> bool:
        if self._do_not_watch:
            self._do_not_watch = False
            return True
        # The one deadline kept here: Patroni's `timeout` for this call, because the wait is on Patroni's
        # threading.Event (set by its REST API), which the core cannot wait on. Every other interval (holder bound,
        # lease expiry, polls) is the core's plan_watch answer, planned within what is left of this one.
        end = time.monotonic() + timeout
        try:
            while True:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return self.event.is_set()
                if self._ctl:
                    return self.event.wait(remaining)
                if leader_version is None:
                    # Patroni passes no version while this node holds the lock (or has no leader to
                    # watch): a holder's watch still ends by its holder bound, so that its HA cycle
                    # renews or learns it lost the lease before a follower may take over.
                    action, wait, reason = self._core.plan_watch(self._leader_key, None, remaining)
                    if action == 'wake' and reason.startswith('lease holder bound'):
                        logger.warning('dynamodb: %s', reason)
                        return True
                    if self._core.lease(self._leader_key)['held']:
                        return self.event.wait(max(0.0, min(remaining, wait)))
                    return self.event.wait(remaining)
                version = leader_version if isinstance(leader_version, int) else None
                action, wait, reason = self._core.plan_watch(self._leader_key, version, remaining)
                if action == 'wake':
                    logger.info('dynamodb: waking the HA loop: %s', reason)
                    return True
                if action in ('poll', 'poll_failover'):
                    if action == 'poll':
                        changed = self._poll_leader(version)
                        if changed:
                            logger.info('dynamodb: leader changed, released or expired; waking the HA loop')
                            return True
                    else:
                        changed = self._poll_failover()
                        if changed:
                            logger.info('dynamodb: a switchover/failover was requested: polling the leader '
                                        'until it hands over')
                    # A failed poll (None, logged) pauses up to 1 s before the next plan, as its log line says
                    # (_POLL_AGAIN): a retry pause of the plugin's, no lease interval.
                    if changed is None and self.event.wait(min(remaining, 1.0)):
                        return True
                    continue
                if self.event.wait(max(0.0, min(remaining, wait))):
                    return True
        finally:
            self.event.clear()

    @dcs_call('leader poll', _POLL_AGAIN, _at_leader, failed=None)
    def _poll_leader(self, version: Optional[int]) -> Optional[bool]:
        """True when the HA loop should run now; None when DynamoDB could not be asked."""
        return self._core.poll_leader(self._leader_key, version)

    @dcs_call('failover key poll', _POLL_AGAIN, _at('_FAILOVER'), failed=None)
    def _poll_failover(self) -> Optional[bool]:
        """True when a new switchover/failover request appeared; None when DynamoDB could not be asked."""
        return self._core.poll_failover(self._leader_key)
