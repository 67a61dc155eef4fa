#!/usr/bin/python3
"""A WHIP publisher (RFC 9725) built on GStreamer's webrtcbin: VP8 test video + Opus test audio.

Usage: gst_whip.py <whip endpoint> <bearer token> <seconds>
Prints "whip: <status>" after the POST, "ice: <state>" and "pc: <state>" on changes, and exits
after <seconds> (DELETE-ing the session) or at once with status 1 when the POST fails.
Run with Debian's /usr/bin/python3 (python3-gi, gir1.2-gst-plugins-bad-1.0).
"""
import sys
import urllib.error
import urllib.request
from urllib.parse import urljoin

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

PIPELINE = """
webrtcbin name=pc bundle-policy=max-bundle
videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=20/1
  ! vp8enc deadline=1 keyframe-max-dist=40 target-bitrate=300000
  ! rtpvp8pay pt=96 ! application/x-rtp,media=video,encoding-name=VP8,payload=96 ! pc.
audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! opusenc
  ! rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! pc.
"""


def say(line):
    print(line, flush=True)


def main():
    endpoint, token, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    Gst.init(None)
    pipeline = Gst.parse_launch(PIPELINE)
    pc = pipeline.get_by_name("pc")
    loop = GLib.MainLoop()
    state = {"location": None, "code": 0, "offered": False}

    def fail(message):
        say(message)
        state["code"] = 1
        loop.quit()

    def post(offer_sdp):
        request = urllib.request.Request(
            endpoint,
            data=offer_sdp.encode(),
            method="POST",
            headers={"content-type": "application/sdp", "authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                say(f"whip: {response.status}")
                state["location"] = urljoin(endpoint, response.headers["location"])
                return response.read().decode()
        except urllib.error.HTTPError as err:
            fail(f"whip: {err.code} {err.read().decode()}")
        except OSError as err:
            fail(f"whip: error {err}")
        return None

    def on_offer(promise, _):
        reply = promise.get_reply()
        offer = reply.get_value("offer")
        pc.emit("set-local-description", offer, Gst.Promise.new())
        answer_sdp = post(offer.sdp.as_text())
        if answer_sdp is None:
            return
        ok, message = GstSdp.SDPMessage.new_from_text(answer_sdp)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, message)
        pc.emit("set-remote-description", answer, Gst.Promise.new())

    def on_negotiation_needed(_):
        # One offer/answer: webrtcbin asks again when the answer's directions differ from its
        # transceivers', and a WHIP session is negotiated once.
        if state["offered"]:
            return
        state["offered"] = True
        index = 0
        while (transceiver := pc.emit("get-transceiver", index)) is not None:
            transceiver.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDONLY)
            index += 1
        pc.emit("create-offer", None, Gst.Promise.new_with_change_func(on_offer, None))

    def on_notify(_, spec):
        value = pc.get_property(spec.name)
        say(f"{'ice' if spec.name == 'ice-connection-state' else 'pc'}: {value.value_nick}")

    pc.connect("on-negotiation-needed", on_negotiation_needed)
    pc.connect("notify::ice-connection-state", on_notify)
    pc.connect("notify::connection-state", on_notify)
    pipeline.set_state(Gst.State.PLAYING)
    GLib.timeout_add(int(seconds * 1000), loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    if state["location"]:
        request = urllib.request.Request(
            state["location"], method="DELETE", headers={"authorization": f"Bearer {token}"}
        )
        try:
            urllib.request.urlopen(request, timeout=5).close()
        except OSError:
            pass
    sys.exit(state["code"])


if __name__ == "__main__":
    main()
