/**
 * The sm-magics JupyterLab extension: a left side panel listing the training jobs and
 * endpoints of every backend with their cost, their actions, live log views and
 * notifications. It talks only to the server extension's REST API (docs/rest-api.md).
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  MainAreaWidget,
  Notification
} from '@jupyterlab/apputils';
import { Session } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { wrapWidgetRenderer } from './fallback';
import { smMagicsIcon } from './icons';
import { createLogView, LogContent } from './logview';
import { SmMagicsModel } from './model';
import { confirmDelete } from './items';
import { SmMagicsPanel } from './panel';
import { confirmApproval, versionName } from './registry';
import { failureSummary, formatDuration, formatUsd, plural } from './format';
import { CommandIDs, IEndpoint, IJob, ISmMagicsModel, JOB_KINDS, PLUGIN_ID } from './tokens';

const PALETTE_CATEGORY = 'sm-magics';

const plugin: JupyterFrontEndPlugin<ISmMagicsModel> = {
  id: PLUGIN_ID,
  description: 'Side panel for sm-magics training jobs and endpoints, with their cost.',
  autoStart: true,
  provides: ISmMagicsModel,
  optional: [ICommandPalette, ISettingRegistry, ILayoutRestorer, ILabShell],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null,
    labShell: ILabShell | null
  ): ISmMagicsModel => {
    const { commands, shell } = app;
    const logViews = new Map<string, MainAreaWidget<LogContent>>();

    const openLogs = (name: string): void => {
      let view = logViews.get(name);
      if (!view || view.isDisposed) {
        view = createLogView(name, smMagicsIcon);
        logViews.set(name, view);
        view.disposed.connect(() => logViews.delete(name));
        shell.add(view, 'main');
      }
      shell.activateById(view.id);
    };

    const deleteEndpoint = async (endpoint: IEndpoint): Promise<void> => {
      if (!(await confirmDelete(endpoint))) {
        return;
      }
      try {
        await model.deleteEndpoint(endpoint.name);
        Notification.success(`Endpoint ${endpoint.name} deleted.`, { autoClose: 4000 });
      } catch (error) {
        Notification.error(`Could not delete endpoint ${endpoint.name}: ${message(error)}`);
      }
    };

    let panel: SmMagicsPanel | null = null;
    const model = new SmMagicsModel({
      isVisible: () => !!panel && panel.isVisible
    });
    connectNotifications(model, openLogs, endpoint => void deleteEndpoint(endpoint));

    // `%sm_watch NAME` in a new cell of the notebook in focus, run at once.
    const watch = async (name: string): Promise<void> => {
      const line = `%sm_watch ${name}`;
      const notebook = panel?.currentNotebook;
      try {
        if (!notebook) {
          throw new Error('no notebook open');
        }
        await commands.execute('notebook:insert-cell-below');
        await commands.execute('notebook:replace-selection', { text: line });
        await commands.execute('notebook:run-cell');
      } catch {
        Clipboard.copyToSystem(line);
        Notification.info(`Copied ${line}: paste it into a notebook cell to watch ${name}.`, {
          autoClose: 5000
        });
      }
    };

    panel = new SmMagicsPanel({
      model,
      icon: smMagicsIcon,
      openLogs,
      stopJob: async job => {
        try {
          await model.stopJob(job.name);
        } catch (error) {
          Notification.error(`Could not stop ${job.name}: ${message(error)}`);
          throw error;
        }
      },
      deleteEndpoint,
      setApproval: async (version, action) => {
        if (!(await confirmApproval(version, action))) {
          return;
        }
        const name = versionName(version);
        try {
          const answer = await model.setApproval(version.group, version.version, action);
          Notification.success(`Model ${name} ${answer.status.toLowerCase()}.`, {
            autoClose: 4000
          });
        } catch (error) {
          Notification.error(`Could not ${action} model ${name}: ${message(error)}`);
        }
      },
      watch: name => void watch(name),
      copySnippet: endpoint => {
        if (endpoint.snippet) {
          Clipboard.copyToSystem(endpoint.snippet);
          Notification.info(`Copied: ${endpoint.snippet}`, { autoClose: 3000 });
        }
      }
    });
    shell.add(panel, 'left', { rank: 950 });

    // The notebook in focus: its jobs and endpoints are listed first.
    const followFocus = (widget: Widget | null): void => {
      const path = (widget as unknown as { context?: { path?: string } } | null)?.context?.path;
      if (path && path.endsWith('.ipynb')) {
        panel!.currentNotebook = path;
      }
    };
    if (labShell) {
      followFocus(labShell.currentWidget);
      labShell.currentChanged.connect((_, change) => followFocus(change.newValue));
      // Snapshots where a widget cannot be shown: wrap each notebook's widget renderer as
      // the notebook is added (before its outputs render).
      const wrapAll = (): void => {
        for (const widget of labShell.widgets('main')) {
          const rendermime = (widget as unknown as { content?: { rendermime?: unknown } })
            .content?.rendermime as Parameters<typeof wrapWidgetRenderer>[0] | undefined;
          if (rendermime && typeof rendermime.getFactory === 'function') {
            wrapWidgetRenderer(rendermime);
          }
        }
      };
      wrapAll();
      labShell.layoutModified.connect(wrapAll);
      watchRestarts(labShell, model);
    }
    watchKernels(app, model);
    if (restorer) {
      restorer.add(panel, 'sm-magics-panel');
    }

    commands.addCommand(CommandIDs.open, {
      label: 'sm-magics: open panel',
      caption: 'Show the SageMaker jobs and endpoints panel',
      icon: args => (args['isPalette'] ? undefined : smMagicsIcon),
      execute: () => shell.activateById(panel!.id)
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'sm-magics: refresh',
      caption: 'Refresh the SageMaker jobs and endpoints panel now',
      execute: () => model.refresh()
    });
    commands.addCommand(CommandIDs.watch, {
      label: args =>
        args['name'] ? `sm-magics: watch ${args['name']} in the notebook` : 'sm-magics: watch',
      execute: args => {
        const name = args['name'] as string | undefined;
        return name ? watch(name) : undefined;
      }
    });
    commands.addCommand(CommandIDs.openLogs, {
      label: args => (args['name'] ? `sm-magics: logs of ${args['name']}` : 'sm-magics: open logs'),
      execute: args => {
        const name = args['name'] as string | undefined;
        if (name) {
          openLogs(name);
        }
      }
    });
    if (palette) {
      palette.addItem({ command: CommandIDs.open, category: PALETTE_CATEGORY });
      palette.addItem({ command: CommandIDs.refresh, category: PALETTE_CATEGORY });
    }

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings): void => {
        const seconds = settings.get('refreshInterval').composite as number;
        const minutes = settings.get('idleWarningMinutes').composite as number;
        model.refreshInterval = Math.max(0.25, Number(seconds) || 2) * 1000;
        model.idleWarningMinutes = Number(minutes);
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error('sm-magics: could not load settings', reason);
        });
    }

    return model;
  }
};

/** The notifications: the model says what happened, the view says it to the user. */
function connectNotifications(
  model: SmMagicsModel,
  openLogs: (name: string) => void,
  deleteEndpoint: (endpoint: IEndpoint) => void
): void {
  model.jobEnded.connect((_, job) => notifyJobEnd(job, openLogs));
  model.endpointIdle.connect((_, { endpoint, idle, invoked }) => {
    const what = invoked
      ? `has not been invoked for ${formatDuration(idle)}`
      : `has been running for ${formatDuration(idle)} without a request`;
    Notification.warning(
      `Endpoint ${endpoint.name} ${what} and costs ${formatUsd(endpoint.cost_per_hour)}/h.`,
      {
        autoClose: false,
        actions: [
          { label: 'Delete…', displayType: 'warn', callback: () => deleteEndpoint(endpoint) }
        ]
      }
    );
  });
  model.kernelEnded.connect((_, reminder) => {
    const names = reminder.endpoints.map(e => e.name).join(', ');
    const notebook = reminder.path.split('/').pop();
    const event = reminder.restarted ? 'restarted' : 'shut down';
    const rate = reminder.perHour === null ? '' : ` (${formatUsd(reminder.perHour)}/h)`;
    const count = plural(reminder.endpoints.length, 'endpoint');
    const actions: Notification.IAction[] = reminder.endpoints.map(endpoint => ({
      label: reminder.endpoints.length > 1 ? `Delete ${endpoint.name}…` : 'Delete…',
      displayType: 'warn',
      callback: () => deleteEndpoint(endpoint)
    }));
    Notification.warning(
      `The kernel of ${notebook} ${event}; ${count} it made still ${reminder.endpoints.length === 1 ? 'bills' : 'bill'}${rate}: ${names}.`,
      { autoClose: false, actions }
    );
  });
}

function notifyJobEnd(job: IJob, openLogs: (name: string) => void): void {
  const actions: Notification.IAction[] = [
    { label: 'Show logs', callback: () => openLogs(job.name) }
  ];
  const kind = JOB_KINDS.find(k => k.kind === job.kind)?.title.replace(/s$/, '') ?? 'Job';
  const what = `${kind.charAt(0).toUpperCase()}${kind.slice(1).toLowerCase()} ${job.name}`;
  const cost = job.cost === null ? '' : `, ${formatUsd(job.cost)}`;
  const summary = `(${formatDuration(job.duration)}${cost})`;
  if (job.status === 'Completed') {
    Notification.success(`${what} completed ${summary}`, { autoClose: 8000, actions });
  } else if (job.status === 'Failed') {
    const reason = failureSummary(job.failure_reason);
    Notification.error(`${what} failed${reason ? `: ${reason}` : ''}`, {
      autoClose: false,
      actions
    });
  } else {
    Notification.info(`${what} stopped ${summary}`, { autoClose: 5000, actions });
  }
}

/**
 * The browser side of the shutdown reminder: when a notebook's kernel goes away (shut
 * down from Lab, or its session closed), ask the model whether endpoints that notebook
 * made still bill. The kernel's own atexit reminder only reaches the server log.
 */
function watchKernels(app: JupyterFrontEnd, model: SmMagicsModel): void {
  const sessions = app.serviceManager.sessions;
  const known = new Map<string, { path: string; kernel: string | null }>();
  const update = (models: Iterable<Session.IModel>): void => {
    const now = new Map<string, { path: string; kernel: string | null }>();
    for (const session of models) {
      now.set(session.id, { path: session.path, kernel: session.kernel?.id ?? null });
    }
    for (const [id, before] of known) {
      const after = now.get(id);
      if (before.kernel && (!after || !after.kernel)) {
        void model.onKernelEnded(before.path, false);
      }
    }
    known.clear();
    for (const [id, value] of now) {
      known.set(id, value);
    }
  };
  void sessions.ready.then(() => {
    update(sessions.running());
    sessions.runningChanged.connect((_, models) => update(models));
  });
}

/** What a main-area widget with a kernel has (a notebook panel, a console): duck-typed. */
interface IHasSessionContext {
  sessionContext?: {
    path?: string;
    statusChanged?: {
      connect: (slot: (sender: unknown, status: string) => void) => boolean;
    };
  };
}

/**
 * The browser side of the reminder for a kernel *restart*: the kernel keeps its id, so the
 * session manager sees nothing; the notebook's session context says 'restarting' (from
 * Lab's menu) or 'autorestarting' (the kernel died). The model then checks whether
 * endpoints that notebook made still bill, as for a shutdown.
 */
function watchRestarts(labShell: ILabShell, model: SmMagicsModel): void {
  const watched = new WeakSet<object>();
  const connect = (): void => {
    for (const widget of labShell.widgets('main')) {
      const context = (widget as unknown as IHasSessionContext).sessionContext;
      if (!context?.statusChanged || watched.has(context)) {
        continue;
      }
      watched.add(context);
      context.statusChanged.connect((_, status) => {
        if ((status === 'restarting' || status === 'autorestarting') && context.path) {
          void model.onKernelEnded(context.path, true);
        }
      });
    }
  };
  connect();
  labShell.layoutModified.connect(connect);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export default plugin;
export * from './tokens';
