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
from typing import Any, Dict, List, Optional, Tuple, Union

from patroni.dcs import AbstractDCS, Cluster, ClusterConfig, Failover, Leader, Member, SyncState, TimelineHistory
from patroni.exceptions import DCSError

from . import _core, lease_log, metrics
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


class DynamoDBError(DCSError):
    """DynamoDB could not be reached, or a write's outcome is unknown."""


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
        self._patroni_timing = (config.get('ttl', 30), config.get('loop_wait', 10), config.get('retry_timeout', 10))
        self._apply_timing(*self._patroni_timing)
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
    def _apply_timing(self, ttl: float, loop_wait: float, retry_timeout: float) -> bool:
        ft = self._core.failover_time
        if ft:
            ttl, loop_wait, retry_timeout = _core.timing_from_failover_time(ft)
        old = self._core.timing()
        self._loop_wait = loop_wait
        self._core.set_timing(float(ttl), float(loop_wait), float(retry_timeout))
        return old[0] != float(ttl)

    def reload_config(self, config: Any) -> None:
        self._patroni_timing = (config['ttl'], config['loop_wait'], config['retry_timeout'])
        if self._apply_timing(*self._patroni_timing):
            self._do_not_watch = True

    def _set_loop_wait(self, loop_wait: int) -> None:
        if getattr(self, '_core', None) is not None and self._core.failover_time:
            return
        self._loop_wait = loop_wait

    def set_ttl(self, ttl: int) -> Optional[bool]:
        if self._core.failover_time:
            return False
        ttl0, lw, rt = self._core.timing()[:3]
        if float(ttl) == ttl0:
            return False
        self._core.set_timing(float(ttl), lw, rt)
        self._do_not_watch = True
        return True

    @property
    def ttl(self) -> int:
        return self._core.timing()[0]

    def set_retry_timeout(self, retry_timeout: int) -> None:
        if self._core.failover_time:
            return
        ttl, lw, _ = self._core.timing()[:3]
        self._core.set_timing(ttl, lw, float(retry_timeout))

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
        until = ('the holder bound has passed' if not lease['held'] else 'still holding until ' + time.strftime(
            '%H:%M:%S UTC', time.gmtime(time.time() + lease['remaining'])))
        config = cluster.config.data if cluster is not None and cluster.config is not None else {}
        if config.get('failsafe_mode'):
            return logging.WARNING, (f'{not_done}; Patroni keeps this primary only if every member answers its '
                                     f'REST API (failsafe_mode); {until}')
        return logging.ERROR, f'{not_done}; Patroni demotes this primary now; {until}'

    def _call(self, what: str, key: str, next_step: str, primary: bool, fn, *args):
        """fn(*args); a StoreError is reported (`next_step`: what was not done and what Patroni does next;
        `primary`: a failure that makes a primary demote, see _primary_next_step) and raised as DynamoDBError
        (Patroni's DCSError)."""
        try:
            return fn(*args)
        except _core.StoreError as e:
            level, text = self._primary_next_step(next_step) if primary else (logging.WARNING, next_step)
            self._report(e, what, key, text, level)
            raise DynamoDBError(str(e)) from None

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

    def _load(self, prefix: str) -> Dict[str, Any]:
        view = self._call('cluster load', prefix or '(all keys)', 'cluster not loaded', True, self._core.load_cluster,
                          prefix)
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
        prefix = self._key(path)
        view = self._load(prefix)
        return self._build_cluster({it['key'][len(prefix):]: it for it in view['items']})

    _cluster_loader = _postgresql_cluster_loader  # Patroni 3.0.x name

    def _mpp_cluster_loader(self, path: str) -> Dict[int, Cluster]:
        prefix = self._key(path) if path.rstrip('/') != self._base_path else ''
        view = self._load(prefix)
        groups: Dict[int, Dict[str, Any]] = {}
        for it in view['items']:
            group, _, rest = it['key'][len(prefix):].partition('/')
            if group.isdigit() and rest:
                groups.setdefault(int(group), {})[rest] = it
        return {g: self._build_cluster(items) for g, items in groups.items()}

    _citus_cluster_loader = _mpp_cluster_loader  # Patroni 3.0.x name

    def _load_cluster(self, path: str, loader: Any) -> Union[Cluster, Dict[int, Cluster]]:
        try:
            return loader(path)
        except DCSError:
            raise
        except Exception as e:
            logger.exception('dynamodb: failed to load the cluster')
            raise DynamoDBError(f'failed to load the cluster: {e}') from None

    # ---- the leader lease ----------------------------------------------------------------------
    @property
    def _leader_key(self) -> str:
        return self._key(self.leader_path)

    def attempt_to_acquire_leader(self) -> bool:
        won = self._call('lease acquisition', self._leader_key, 'not acquired; Patroni retries in its next cycle',
                         False, self._core.acquire_leader, self._leader_key)
        if won:
            logger.info('dynamodb: acquired the leader lease, term %s', self._core.lease(self._leader_key)['term'])
        else:
            logger.info('dynamodb: could not acquire the leader lease: another node holds it')
        return won

    def _update_leader(self, leader: Optional[Leader] = None) -> bool:
        version = None
        if leader is None and self._cluster is not None:
            leader = self._cluster.leader
        if leader is not None:  # Patroni 3.0.x calls the field `index`, later versions `version`
            version = getattr(leader, 'version', getattr(leader, 'index', None))
        try:
            ok = self._call('lease renewal', self._leader_key, 'lease not renewed', True, self._core.renew_leader,
                            self._leader_key, version if isinstance(version, int) else None)
        except DynamoDBError:
            self._renewals['failed'] += 1
            raise
        self._renewals['renewed' if ok else 'refused'] += 1
        if not ok:
            # Patroni demotes on False: an ERROR, like every failure that makes it demote.
            logger.error('dynamodb: leader lease renewal refused: the lease is not ours any more')
        self._check_credentials()
        return ok

    def take_leader(self) -> bool:
        try:
            return self._core.take_leader(self._leader_key)
        except _core.StoreError as e:
            self._report(e, 'lease take-over', self._leader_key, 'not taken; Patroni retries in its next cycle')
            return False

    def _delete_leader(self, leader: Optional[Leader] = None) -> bool:
        # Conditioned on our name and the version we hold (else the one Patroni saw), so a late or
        # repeated release never ends a later lease.
        version = getattr(leader, 'version', getattr(leader, 'index', None)) if leader is not None else None
        return self._safe('lease release', 'not released; the other nodes take over once they see it expire',
                          self._core.release_leader, self._leader_key,
                          version if isinstance(version, int) and not isinstance(version, bool) else None)

    # ---- other keys ------------------------------------------------------------------------------
    def _safe(self, what: str, next_step: str, fn, key: str, *args) -> Any:
        """fn(key, *args), or False when it fails (reported)."""
        try:
            return fn(key, *args)
        except _core.StoreError as e:
            self._report(e, what, key, next_step)
            return False

    @staticmethod
    def _version(version: Any, index: Any) -> Optional[int]:
        v = version if version is not None else index
        return int(v) if v not in (None, '') else None

    def _set(self, key: str, value: str, version: Optional[int] = None) -> bool:
        return self._safe('write', _NOT_WRITTEN, self._core.set_value, self._key(key), value,
                          version) not in (None, False)

    def set_failover_value(self, value: str, version: Any = None, index: Any = None) -> bool:
        return self._set(self._FAILOVER, value, self._version(version, index))

    def set_config_value(self, value: str, version: Any = None, index: Any = None) -> bool:
        return self._set(self._CONFIG, value, self._version(version, index))

    def touch_member(self, data: Dict[str, Any]) -> bool:
        try:
            return self._core.touch_member(self._key(self.member_path), json.dumps(data, separators=(',', ':')))
        except _core.StoreError as e:  # called from a `finally`: never raise
            self._report(e, 'member update', self._key(self.member_path),
                         'member item not refreshed; Patroni retries in its next cycle')
            return False
        except Exception as e:
            logger.error('dynamodb: touch_member failed: %s', e)
            return False

    def initialize(self, create_new: bool = True, sysid: str = '') -> bool:
        return bool(self._safe('initialize', _NOT_WRITTEN, self._core.initialize, self._key(self._INITIALIZE), sysid,
                               create_new))

    def cancel_initialization(self) -> bool:
        return bool(self._safe('delete', _NOT_WRITTEN, self._core.delete_key, self._key(self._INITIALIZE), None))

    def delete_cluster(self) -> bool:
        try:
            self._core.delete_cluster()
            return True
        except _core.StoreError as e:
            self._report(e, 'cluster removal', '(all keys)', 'not removed (or only in part); run it again')
            return False

    def set_history_value(self, value: str) -> bool:
        return self._set(self._HISTORY, value)

    def set_sync_state_value(self, value: str, version: Any = None, index: Any = None) -> Union[int, bool]:
        new = self._safe('write', _NOT_WRITTEN, self._core.set_value, self._key(self._SYNC), value,
                         self._version(version, index))
        return new if isinstance(new, int) and not isinstance(new, bool) else False

    def delete_sync_state(self, version: Any = None, index: Any = None) -> bool:
        return bool(self._safe('delete', _NOT_WRITTEN, self._core.delete_key, self._key(self._SYNC),
                               self._version(version, index)))

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
                if action == 'poll_failover':
                    try:
                        if self._core.poll_failover(self._leader_key):
                            logger.info('dynamodb: a switchover/failover was requested: polling the leader '
                                        'until it hands over')
                    except _core.StoreError as e:
                        self._report(e, 'failover key poll', self._key(self._FAILOVER), _POLL_AGAIN)
                        if self.event.wait(min(remaining, 1.0)):
                            return True
                    continue
                if action == 'poll':
                    try:
                        if self._core.poll_leader(self._leader_key, version):
                            logger.info('dynamodb: leader changed, released or expired; waking the HA loop')
                            return True
                    except _core.StoreError as e:
                        self._report(e, 'leader poll', self._leader_key, _POLL_AGAIN)
                        if self.event.wait(min(remaining, 1.0)):
                            return True
                    continue
                if self.event.wait(max(0.0, min(remaining, wait))):
                    return True
        finally:
            self.event.clear()
