/**
 * The sm-magics JupyterLab extension: a left side panel listing the training jobs and
 * endpoints of every backend with their cost, their actions, live log views and
 * notifications. It talks only to the server extension's REST API (docs/rest-api.md).
 */
import {
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
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { smMagicsIcon } from './icons';
import { createLogView, LogContent } from './logview';
import { SmMagicsModel } from './model';
import { confirmDelete, SmMagicsPanel } from './panel';
import { CommandIDs, IEndpoint, ISmMagicsModel, PLUGIN_ID } from './tokens';

const PALETTE_CATEGORY = 'sm-magics';

const plugin: JupyterFrontEndPlugin<ISmMagicsModel> = {
  id: PLUGIN_ID,
  description: 'Side panel for sm-magics training jobs and endpoints, with their cost.',
  autoStart: true,
  provides: ISmMagicsModel,
  optional: [ICommandPalette, ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
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
      isVisible: () => !!panel && panel.isVisible,
      openLogs,
      deleteEndpoint: endpoint => void deleteEndpoint(endpoint)
    });

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
      copySnippet: endpoint => {
        if (endpoint.snippet) {
          Clipboard.copyToSystem(endpoint.snippet);
          Notification.info(`Copied: ${endpoint.snippet}`, { autoClose: 3000 });
        }
      }
    });
    shell.add(panel, 'left', { rank: 950 });
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

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export default plugin;
export * from './tokens';
