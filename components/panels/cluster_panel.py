"""The Ray cluster, in the Runs tab: its nodes with what they have free and used, which runs train where, and what
queued runs wait for (studio.runs.cluster.view). Without --ray, one sentence says the runs queue on this machine.

Everyone sees the nodes' resources and their own runs on them; node addresses and others' run ids are for admins."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from components.context import StudioContext
from components.i18n import Lang, t
from components.ui import bind, shows_user_errors
from studio.runs.cluster import view

LOCAL_QUEUE = ("This studio queues runs on this machine, one per device. Started with `--ray ADDRESS`, it sends them "
               "to a Ray cluster, which places each where what it asks for is free.",
               "本工作室在本机排队运行，每个设备一次一个。用 `--ray ADDRESS` 启动时，运行会交给 Ray 集群，"
               "由它放到有足够空闲资源的节点上。")


@dataclass
class ClusterPanel:
    state: gr.Markdown
    refresh: gr.Button


@shows_user_errors
def on_refresh(ctx: StudioContext, request: gr.Request = None) -> str:
    """The cluster as the person asking may see it."""
    lang = Lang.of(request)
    if not ctx.store.cluster:
        return lang(*LOCAL_QUEUE)
    return "```\n" + view.text(view.snapshot(ctx.store), zh=lang.zh) + "\n```"


def build(ctx: StudioContext) -> ClusterPanel:
    with gr.Accordion(t("Cluster", "集群"), open=False, elem_id="cluster"):
        state = gr.Markdown(t(*LOCAL_QUEUE) if not ctx.store.cluster else "", elem_id="cluster-state")
        refresh = gr.Button(t("Refresh the cluster", "刷新集群"), size="sm", scale=0, elem_id="cluster-refresh")
    panel = ClusterPanel(state, refresh)
    refresh.click(bind(on_refresh, ctx), outputs=state, api_name="cluster_state", concurrency_limit=2)
    return panel
