"""Drives Hookyard's MCP server with the official MCP Python SDK (a client no one here wrote).

Usage:
  mcp_client.py stdio  SCRIPT_JSON -- COMMAND ARGS...   spawn COMMAND as a stdio MCP server
  mcp_client.py http   SCRIPT_JSON URL [TOKEN]           connect over Streamable HTTP

SCRIPT_JSON is a list of steps: {"op": "list_tools"} | {"op": "call", "tool": NAME, "arguments": {...}}
| {"op": "list_resources"} | {"op": "read_resource", "uri": URI} | {"op": "list_prompts"}
| {"op": "get_prompt", "name": NAME, "arguments": {...}}.
Prints one JSON object: {"server": ..., "results": [...]}, each result either {"ok": ...} or {"error": {"code", "message"}}.
A call's "ok" holds {"isError", "text", "structured"}; "{{confirmation:N}}" in an argument is replaced by the
confirmation token that step N returned, so the live-mode confirmation flow can be scripted.
"""
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError

try:
    from mcp.client.streamable_http import streamablehttp_client as http_client
except ImportError:  # newer SDKs renamed it
    from mcp.client.streamable_http import streamable_http_client as http_client


def dump(model):
    return json.loads(model.model_dump_json(by_alias=True, exclude_none=True))


def substitute(value, results):
    if isinstance(value, str) and value.startswith("{{confirmation:") and value.endswith("}}"):
        index = int(value[len("{{confirmation:"):-2])
        return results[index]["ok"]["structured"]["confirmation"]
    if isinstance(value, dict):
        return {key: substitute(item, results) for key, item in value.items()}
    return value


async def run(session, script):
    init = await session.initialize()
    results = []
    for step in script:
        try:
            op = step["op"]
            if op == "list_tools":
                listed = await session.list_tools()
                results.append({"ok": [dump(tool) for tool in listed.tools]})
            elif op == "call":
                arguments = substitute(step.get("arguments", {}), results)
                result = await session.call_tool(step["tool"], arguments)
                text = "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")
                results.append({"ok": {"isError": bool(result.isError), "text": text,
                                       "structured": result.structuredContent}})
            elif op == "list_resources":
                listed = await session.list_resources()
                results.append({"ok": [dump(resource) for resource in listed.resources]})
            elif op == "read_resource":
                read = await session.read_resource(step["uri"])
                results.append({"ok": [dump(content) for content in read.contents]})
            elif op == "list_prompts":
                listed = await session.list_prompts()
                results.append({"ok": [dump(prompt) for prompt in listed.prompts]})
            elif op == "get_prompt":
                prompt = await session.get_prompt(step["name"], step.get("arguments"))
                results.append({"ok": dump(prompt)})
            else:
                raise ValueError("unknown op " + op)
        except McpError as error:
            results.append({"error": {"code": error.error.code, "message": error.error.message}})
    return {"server": dump(init.serverInfo), "protocol": init.protocolVersion, "results": results}


async def main():
    mode, script_path = sys.argv[1], sys.argv[2]
    with open(script_path) as handle:
        script = json.load(handle)
    if mode == "stdio":
        command = sys.argv[sys.argv.index("--") + 1:]
        # The server gets this process's whole environment (the SDK passes only a few variables by default), as a
        # client configuration's "env" would give it the database and the rules' variables.
        params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                output = await run(session, script)
    else:
        url = sys.argv[3]
        headers = {"Authorization": "Bearer " + sys.argv[4]} if len(sys.argv) > 4 else None
        async with http_client(url, headers=headers) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                output = await run(session, script)
    print(json.dumps(output))


asyncio.run(main())
